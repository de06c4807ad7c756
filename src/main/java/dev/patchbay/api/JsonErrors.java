package dev.patchbay.api;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.TokenStreamContext;
import tools.jackson.core.exc.StreamConstraintsException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.databind.exc.ValueInstantiationException;

/**
 * Turns Jackson's failures into the field path at fault and a reason a client can act on,
 * without the Java type names Jackson's own messages carry.
 */
final class JsonErrors {

	/**
	 * Jackson's pointers to its own settings, e.g. "(from `StreamReadConstraints...`)".
	 */
	private static final Pattern SETTING_REFERENCE = Pattern.compile("\\s*[,(]?\\s*(from|enable|use) `[^`]*`[^)]*\\)?");

	private JsonErrors() {
	}

	/**
	 * Where and why a JSON document could not be read.
	 *
	 * @param field the path of the field at fault, e.g. {@code terms[0].weight}, or
	 * {@code body} for the document as a whole
	 * @param reason what is wrong, e.g. {@code must be a number}
	 */
	record Located(String field, String reason) {

		String message() {
			return this.field + ": " + this.reason;
		}

	}

	/**
	 * @param root how the document is named when the fault is at its top: {@code body}
	 * for a JSON request body, {@code metadata} for the metadata part of an upload
	 */
	static Located locate(JacksonException ex, String root) {
		String path = path(ex);
		// A request body's fields are named from its top, the metadata part's under
		// "metadata".
		String field = path.isEmpty() ? root : (root.equals("body") ? path.replaceFirst("^\\.", "") : root + path);
		return new Located(field, reason(ex));
	}

	private static String reason(JacksonException ex) {
		// Unknown fields are errors everywhere, so the message lists the known ones to
		// make a typo obvious.
		if (ex instanceof UnrecognizedPropertyException unknown) {
			return "is not a known field; expected one of " + names(unknown.getKnownPropertyIds());
		}
		if (ex instanceof StreamConstraintsException) {
			return "exceeds a limit of the JSON reader: " + clean(ex.getOriginalMessage());
		}
		if (ex instanceof ValueInstantiationException) {
			return "is invalid" + ((ex.getCause() instanceof NullPointerException) ? ": it holds a null value" : "");
		}
		if (ex instanceof MismatchedInputException mismatch && mismatch.getTargetType() != null) {
			return "must be " + describe(mismatch.getTargetType());
		}
		if (ex instanceof StreamReadException) {
			String message = (ex.getOriginalMessage() != null) ? ex.getOriginalMessage() : "";
			// Python's json.dumps writes NaN and Infinity by default, so this is the most
			// common invalid document; it gets a message of its own.
			if (message.contains("Non-standard token")) {
				return "is not valid JSON: NaN and Infinity are not JSON numbers";
			}
			if (message.contains("end-of-input")) {
				return "is not valid JSON: the document ends too early";
			}
			return "is not valid JSON: " + clean(message) + location(ex);
		}
		return "could not be read as JSON" + location(ex);
	}

	private static String location(JacksonException ex) {
		return (ex.getLocation() != null && ex.getLocation().getLineNr() > 0)
				? " (line " + ex.getLocation().getLineNr() + ", column " + ex.getLocation().getColumnNr() + ")" : "";
	}

	/**
	 * The first line of Jackson's message, without its references to its own settings.
	 */
	private static String clean(String message) {
		String firstLine = (message != null) ? message.lines().findFirst().orElse("") : "";
		return SETTING_REFERENCE.matcher(firstLine).replaceAll("").strip();
	}

	private static String names(Collection<Object> known) {
		return (known == null) ? "[]" : known.stream().map(String::valueOf).sorted().toList().toString();
	}

	/** A Java type as a JSON reader thinks of it; enums are strings on the wire. */
	private static String describe(Class<?> type) {
		if (type == UUID.class) {
			return "a UUID";
		}
		if (type == Double.class || type == double.class || type == Float.class || type == float.class) {
			return "a number";
		}
		if (type == Integer.class || type == int.class || type == Long.class || type == long.class
				|| type == Short.class || type == short.class) {
			return "an integer";
		}
		if (type == Boolean.class || type == boolean.class) {
			return "true or false";
		}
		if (type == String.class || type.isEnum()) {
			return "a string";
		}
		if (Collection.class.isAssignableFrom(type) || type.isArray()) {
			return "a list";
		}
		if (Map.class.isAssignableFrom(type) || type.isRecord()) {
			return "an object";
		}
		return "of another type";
	}

	/**
	 * The path Jackson recorded while binding, or for a syntax error the parser's
	 * position.
	 */
	private static String path(JacksonException ex) {
		if (ex instanceof StreamReadException && ex.processor() instanceof JsonParser parser) {
			// A syntax error: where the parser stands is more precise than the binding
			// path.
			return contextPath(parser.streamReadContext());
		}
		StringBuilder path = new StringBuilder();
		List<JacksonException.Reference> references = ex.getPath();
		if (references != null && !references.isEmpty()) {
			for (JacksonException.Reference reference : references) {
				if (reference.getPropertyName() != null) {
					path.append('.').append(reference.getPropertyName());
				}
				else if (reference.getIndex() >= 0) {
					path.append('[').append(reference.getIndex()).append(']');
				}
			}
		}
		return path.toString();
	}

	private static String contextPath(TokenStreamContext context) {
		if (context == null || context.inRoot()) {
			return "";
		}
		String parent = contextPath(context.getParent());
		if (context.inArray()) {
			return parent + "[" + Math.max(0, context.getCurrentIndex()) + "]";
		}
		return (context.currentName() != null) ? parent + "." + context.currentName() : parent;
	}

}
