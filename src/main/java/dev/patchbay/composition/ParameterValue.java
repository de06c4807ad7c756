package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import tools.jackson.databind.JsonNode;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * A method or term parameter as mergekit reads it ({@code mergekit/config.py}): a number
 * or boolean, a gradient interpolated over the layer position, or a list of values
 * conditioned on tensor-name filters, the first match winning.
 */
sealed interface ParameterValue {

	/**
	 * The value for a tensor at layer position t in [0, 1], or null where no filter
	 * matches (the reader then falls through to the next level).
	 */
	Double evaluate(String tensor, double t);

	/** A canonical JSON rendering, for digests and storage. */
	String canonical();

	/**
	 * The string for a tensor, for parameters that name a choice (OTA's
	 * {@code normalise}, say), or null where the value is a number or no filter matches.
	 */
	default String text(String tensor, double t) {
		return null;
	}

	/**
	 * A string, for parameters that name a choice. As a number it is the number it spells
	 * (YAML 1.1 reads {@code 1e-26} as a string, which mergekit's pydantic coerces), else
	 * NaN, which the reader reports.
	 */
	record Text(String value) implements ParameterValue {

		@Override
		public Double evaluate(String tensor, double t) {
			try {
				double number = Double.parseDouble(this.value.strip());
				return Double.isFinite(number) ? number : Double.NaN;
			}
			catch (NumberFormatException ex) {
				return Double.NaN;
			}
		}

		@Override
		public String text(String tensor, double t) {
			return this.value;
		}

		@Override
		public String canonical() {
			return "\"" + this.value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
		}

	}

	/** A number; a boolean is 1 or 0, as in Python. */
	record Scalar(double value) implements ParameterValue {

		@Override
		public Double evaluate(String tensor, double t) {
			return this.value;
		}

		@Override
		public String canonical() {
			return Double.toString(this.value);
		}

	}

	/** Piecewise linear over the layer position, mergekit's gradient. */
	record Gradient(List<Double> points) implements ParameterValue {

		@Override
		public Double evaluate(String tensor, double t) {
			int last = this.points.size() - 1;
			double s = t * last;
			int i0 = (int) s;
			int i1 = Math.min(last, i0 + 1);
			if (i0 >= last) {
				return this.points.get(last);
			}
			double fraction = s - i0;
			return (1 - fraction) * this.points.get(i0) + fraction * this.points.get(i1);
		}

		@Override
		public String canonical() {
			return this.points.toString();
		}

	}

	/** Values conditioned on substrings of the tensor name; no filter matches all. */
	record Conditional(List<Entry> entries) implements ParameterValue {

		@Override
		public Double evaluate(String tensor, double t) {
			for (Entry entry : this.entries) {
				if (entry.filter() == null || entry.filter().equals("*") || tensor.contains(entry.filter())) {
					return entry.value().evaluate(tensor, t);
				}
			}
			return null;
		}

		@Override
		public String text(String tensor, double t) {
			for (Entry entry : this.entries) {
				if (entry.filter() == null || entry.filter().equals("*") || tensor.contains(entry.filter())) {
					return entry.value().text(tensor, t);
				}
			}
			return null;
		}

		@Override
		public String canonical() {
			StringBuilder out = new StringBuilder("[");
			for (Entry entry : this.entries) {
				out.append((out.length() > 1) ? "," : "")
					.append("{\"filter\":")
					.append((entry.filter() != null) ? "\"" + entry.filter().replace("\"", "\\\"") + "\"" : "null")
					.append(",\"value\":")
					.append(entry.value().canonical())
					.append('}');
			}
			return out.append(']').toString();
		}

	}

	/** One conditional value. */
	record Entry(String filter, ParameterValue value) {
	}

	/**
	 * Parses a JSON value.
	 * @throws InvalidInputException naming the field when the value has no meaning
	 */
	static ParameterValue parse(JsonNode node, String field) {
		if (node == null || node.isNull()) {
			throw invalid(field,
					"must be a number, a boolean, a string, a list of numbers or a list of {filter, value}");
		}
		if (node.isNumber()) {
			double value = node.asDouble();
			if (!Double.isFinite(value)) {
				throw invalid(field, "must be finite");
			}
			return new Scalar(value);
		}
		if (node.isBoolean()) {
			return new Scalar(node.asBoolean() ? 1 : 0);
		}
		if (node.isString()) {
			return new Text(node.asString());
		}
		if (node.isObject()) {
			// mergekit's schema allows one mapping, which its evaluator then rejects: a
			// one-element list is what it means.
			return new Conditional(List.of(entry(node, field)));
		}
		if (node.isArray() && !node.isEmpty()) {
			if (node.get(0).isObject()) {
				List<Entry> entries = new ArrayList<>();
				for (int i = 0; i < node.size(); i++) {
					entries.add(entry(node.get(i), field + "[" + i + "]"));
				}
				return new Conditional(List.copyOf(entries));
			}
			List<Double> points = new ArrayList<>();
			for (int i = 0; i < node.size(); i++) {
				JsonNode point = node.get(i);
				if (point.isNumber() && Double.isFinite(point.asDouble())) {
					points.add(point.asDouble());
				}
				else if (point.isBoolean()) {
					points.add(point.asBoolean() ? 1.0 : 0.0);
				}
				else {
					throw invalid(field + "[" + i + "]", "a gradient lists finite numbers only");
				}
			}
			return new Gradient(List.copyOf(points));
		}
		throw invalid(field, "must be a number, a boolean, a list of numbers or a list of {filter, value}");
	}

	private static Entry entry(JsonNode node, String field) {
		if (!node.isObject() || !node.has("value")) {
			throw invalid(field, "a conditional entry is {\"filter\": \"substring\", \"value\": VALUE}");
		}
		JsonNode filter = node.get("filter");
		if (filter != null && !filter.isNull() && !filter.isString()) {
			throw invalid(field + ".filter", "must be a string");
		}
		return new Entry((filter != null && !filter.isNull()) ? filter.asString() : null,
				parse(node.get("value"), field + ".value"));
	}

	/** Parses a map of parameters, keeping their order. */
	static Map<String, ParameterValue> parseAll(Map<String, JsonNode> nodes, String field) {
		if (nodes == null) {
			return Map.of();
		}
		Map<String, ParameterValue> values = new java.util.LinkedHashMap<>();
		nodes.forEach((name, node) -> values.put(name, parse(node, field + "." + name)));
		return java.util.Collections.unmodifiableMap(values);
	}

	/** A canonical rendering of a map of parameters, sorted by name. */
	static String canonical(Map<String, ParameterValue> values) {
		StringBuilder out = new StringBuilder("{");
		new java.util.TreeMap<>(values).forEach((name, value) -> out.append((out.length() > 1) ? "," : "")
			.append('"')
			.append(name)
			.append("\":")
			.append(value.canonical()));
		return out.append('}').toString();
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_RECIPE, field + ": " + reason, Map.of("field", field));
	}

}
