package dev.patchbay.inference;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageImpl;
import org.springframework.data.domain.Pageable;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * One page of the rows of a table of background work (evaluations, sweeps), newest first,
 * of one status or all, as every replica sees them.
 */
final class StatusPages {

	private StatusPages() {
	}

	/**
	 * @param table the table, a name of ours, never a client's
	 * @param status the status to keep, or null for all
	 */
	static <T> Page<T> list(JdbcClient jdbc, String table, String status, Pageable pageable, RowMapper<T> rows) {
		String where = (status != null) ? " where status = :status" : "";
		Map<String, Object> params = new HashMap<>();
		if (status != null) {
			params.put("status", status);
		}
		long total = jdbc.sql("select count(*) from " + table + where).params(params).query(Long.class).single();
		List<T> page = jdbc
			.sql("select * from " + table + where + " order by created_at desc, id limit :limit offset :offset")
			.params(params)
			.param("limit", pageable.getPageSize())
			.param("offset", pageable.getOffset())
			.query(rows)
			.list();
		return new PageImpl<>(page, pageable, total);
	}

}
