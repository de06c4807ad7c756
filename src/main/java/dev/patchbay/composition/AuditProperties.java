package dev.patchbay.composition;

import java.util.List;
import java.util.stream.Stream;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Patch audit settings.
 *
 * @param removedNeuronFraction Fraction of a layer's neurons a patch may remove before it
 * is flagged; a patch that removes more in any layer is flagged.
 * @param collapseFraction Fraction of a neuron's base norm below which its patched norm
 * counts as removed.
 * @param neuronRows Regular expressions (RE2, searched in the tensor name) of the tensors
 * whose rows are a layer's neurons, such as up and gate projections.
 * @param neuronColumns Regular expressions of the tensors whose columns are a layer's
 * neurons, such as down projections (and GPT-2's Conv1D {@code c_fc}, stored [in, out]).
 * @param powerIterations Maximum number of power iterations per matrix for its top
 * singular value.
 * @param powerTolerance Relative change of the top singular value estimate below which
 * power iteration stops.
 * @param cacheEntries Maximum number of audits kept in memory per (patch, model); 0
 * disables the cache.
 */
@Validated
@ConfigurationProperties("patchbay.audit")
public record AuditProperties(@DefaultValue("0.001") @DecimalMin("0") @DecimalMax("1") double removedNeuronFraction,
		@DefaultValue("0.01") @DecimalMin(value = "0", inclusive = false) @DecimalMax(value = "1",
				inclusive = false) double collapseFraction,
		@NotNull @DefaultValue( {
				"mlp\\.(up_proj|gate_proj|gate_up_proj|dense_h_to_4h)\\.weight$", "mlp\\.c_proj\\.weight$",
				"(^|\\.)fc1\\.weight$" }) List<String> neuronRows,
		@NotNull @DefaultValue({ "mlp\\.(down_proj|dense_4h_to_h)\\.weight$", "mlp\\.c_fc\\.weight$",
				"(^|\\.)fc2\\.weight$" }) List<String> neuronColumns,
		@DefaultValue("100") @Min(1) @Max(10000) int powerIterations,
		@DefaultValue("1e-6") @DecimalMin(value = "0", inclusive = false) double powerTolerance,
		@DefaultValue("256") @Min(0) int cacheEntries){

	public AuditProperties {
		// A typo in a pattern must stop start-up, not silently audit nothing.
		for (String pattern : concat(neuronRows, neuronColumns)) {
			try {
				Pattern.compile(pattern);
			}
			catch (PatternSyntaxException ex) {
				throw new IllegalArgumentException(
						"patchbay.audit neuron pattern '" + pattern + "' is not a valid RE2 expression", ex);
			}
		}
	}

	private static List<String> concat(List<String> first, List<String> second) {
		return Stream
			.concat((first != null) ? first.stream() : Stream.empty(),
					(second != null) ? second.stream() : Stream.empty())
			.toList();
	}

}
