package dev.patchbay.api;

import java.io.IOException;
import java.util.function.Consumer;

import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ValveBase;
import org.apache.coyote.ActionCode;

/**
 * Closes a connection at once when a response cannot send every byte its
 * {@code Content-Length} announced, so that the client sees a broken transfer instead of
 * a clean end of a short body. The Servlet API has no way to do that once the response is
 * committed; Tomcat has, through its own response, which only a valve can reach.
 */
final class ConnectionAbort {

	private static final String ATTRIBUTE = ConnectionAbort.class.getName();

	private ConnectionAbort() {
	}

	/**
	 * The abort of the connection that carries a request; call it before the request
	 * completes. Does nothing outside Tomcat.
	 */
	@SuppressWarnings("unchecked")
	static Consumer<Throwable> of(ServletRequest request) {
		Object abort = request.getAttribute(ATTRIBUTE);
		return (abort instanceof Consumer<?> consumer) ? (Consumer<Throwable>) consumer : (cause) -> {
		};
	}

	/** Gives each request the abort of its connection. */
	static final class Valve extends ValveBase {

		Valve() {
			super(true);
		}

		@Override
		public void invoke(Request request, Response response) throws IOException, ServletException {
			org.apache.coyote.Response coyote = response.getCoyoteResponse();
			Consumer<Throwable> abort = (cause) -> coyote.action(ActionCode.CLOSE_NOW, cause);
			request.setAttribute(ATTRIBUTE, abort);
			getNext().invoke(request, response);
		}

	}

}
