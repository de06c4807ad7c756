package dev.patchbay.api;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

/**
 * A sweep's table as CSV, and its chart (accuracy per split against a term's weight) as
 * SVG and PNG. The x axis is the weight of the first term with more than one weight; with
 * several terms varying, each combination of the others' weights gets a series per split.
 * The PNG is drawn with java.awt on a headless image, so no dependency is needed.
 */
final class SweepCharts {

	// A fixed canvas and margins: both renderings share the same coordinates, so the SVG
	// and the PNG of a sweep are the same picture. The wide right margin holds the
	// legend.
	private static final int WIDTH = 720;

	private static final int HEIGHT = 420;

	private static final int LEFT = 64;

	private static final int RIGHT = 220;

	private static final int TOP = 36;

	private static final int BOTTOM = 52;

	// matplotlib's tab10, which readers of sweep plots already know; it repeats after ten
	// series.
	private static final String[] PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
			"#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };

	private SweepCharts() {
	}

	/**
	 * One header row (a weight column per term, then one per split), then a row per
	 * point.
	 */
	static String csv(SweepView sweep) {
		StringBuilder csv = new StringBuilder();
		List<String> header = new ArrayList<>();
		for (int i = 0; i < sweep.request().terms().size(); i++) {
			header.add("weight_" + i);
		}
		header.addAll(sweep.request().inputs());
		// RFC 4180 ends records with CRLF. Only the header holds client text (the split
		// names); the rows are numbers and need no quoting.
		csv.append(String.join(",", header.stream().map(SweepCharts::csvField).toList())).append("\r\n");
		for (SweepView.Result result : sweep.results()) {
			List<String> row = new ArrayList<>();
			// Double.toString is locale-independent and round-trips, so a reader gets
			// back the exact weight and accuracy the sweep stored.
			result.weights().forEach((weight) -> row.add(Double.toString(weight)));
			sweep.request().inputs().forEach((input) -> row.add(Double.toString(result.accuracy().get(input))));
			csv.append(String.join(",", row)).append("\r\n");
		}
		return csv.toString();
	}

	/** An RFC 4180 field: quoted, with doubled quotes, only when it has to be. */
	private static String csvField(String value) {
		if (value.contains(",") || value.contains("\"") || value.contains("\n") || value.contains("\r")) {
			return "\"" + value.replace("\"", "\"\"") + "\"";
		}
		return value;
	}

	/** A series: one split at one combination of the other terms' weights. */
	private record Series(String split, String label, String color, List<double[]> points) {
	}

	/** What both renderings draw. */
	private record Chart(String title, String axisLabel, double xMin, double xMax, List<Series> series) {

		// Accuracy is always in [0, 1], so y needs no range of its own; x spans the swept
		// weights.
		double x(double weight) {
			return LEFT + (weight - this.xMin) / (this.xMax - this.xMin) * (WIDTH - LEFT - RIGHT);
		}

		static double y(double accuracy) {
			return TOP + (1 - accuracy) * (HEIGHT - TOP - BOTTOM);
		}

		List<Double> xTicks() {
			List<Double> ticks = new ArrayList<>();
			for (int i = 0; i <= 4; i++) {
				ticks.add(this.xMin + i * (this.xMax - this.xMin) / 4);
			}
			return ticks;
		}

	}

	private static Chart chart(SweepView sweep) {
		int terms = sweep.request().terms().size();
		// The first term whose weight varies is the x axis; if none varies, term 0 is,
		// and the chart shows single points.
		int axis = 0;
		for (int i = 0; i < terms; i++) {
			if (sweep.request().terms().get(i).weights().stream().distinct().count() > 1) {
				axis = i;
				break;
			}
		}
		List<Double> weights = sweep.request().terms().get(axis).weights();
		double min = weights.stream().mapToDouble(Double::doubleValue).min().orElse(0);
		double max = weights.stream().mapToDouble(Double::doubleValue).max().orElse(1);
		// One weight only: widen the axis around it so the scale does not divide by zero
		// and the point sits in the middle.
		if (min == max) {
			min -= 0.5;
			max += 0.5;
		}
		// Series keyed by the other terms' weights, then by split, in first-seen order.
		Map<String, Series> series = new LinkedHashMap<>();
		for (SweepView.Result result : sweep.results()) {
			StringBuilder others = new StringBuilder();
			for (int i = 0; i < terms; i++) {
				if (i != axis) {
					others.append(others.isEmpty() ? "" : ", ")
						.append("w")
						.append(i)
						.append('=')
						.append(result.weights().get(i));
				}
			}
			for (String split : sweep.request().inputs()) {
				String label = others.isEmpty() ? split : split + " (" + others + ")";
				Series line = series.computeIfAbsent(label,
						(key) -> new Series(split, key, PALETTE[series.size() % PALETTE.length], new ArrayList<>()));
				line.points().add(new double[] { result.weights().get(axis), result.accuracy().get(split) });
			}
		}
		// A sweep's points come in grid order, which need not be increasing along the
		// axis; a line must join them left to right.
		series.values().forEach((line) -> line.points().sort((a, b) -> Double.compare(a[0], b[0])));
		String patch = String.valueOf(sweep.request().terms().get(axis).patchId());
		return new Chart("Sweep " + sweep.id() + ": accuracy per split",
				// The patch id is cut to 8 characters so the label fits under the axis.
				"weight of term " + axis + " (patch " + patch.substring(0, Math.min(8, patch.length())) + "…)", min,
				max, new ArrayList<>(series.values()));
	}

	/** The chart as a standalone SVG document, one {@code g.series} per series. */
	static String svg(SweepView sweep) {
		Chart chart = chart(sweep);
		StringBuilder svg = new StringBuilder();
		svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
			.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
			.append(WIDTH)
			.append("\" height=\"")
			.append(HEIGHT)
			.append("\" viewBox=\"0 0 ")
			.append(WIDTH)
			.append(' ')
			.append(HEIGHT)
			.append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
		svg.append("<title>").append(escape(chart.title())).append("</title>\n");
		svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
		svg.append("<g class=\"axes\" stroke=\"#333\">\n");
		double bottom = Chart.y(0);
		double right = chart.x(chart.xMax());
		svg.append(line(LEFT, bottom, right, bottom)).append(line(LEFT, Chart.y(0), LEFT, Chart.y(1)));
		for (int i = 0; i <= 5; i++) {
			double accuracy = i / 5.0;
			svg.append(line(LEFT - 4, Chart.y(accuracy), LEFT, Chart.y(accuracy)));
			// Light grid lines over the plot area, behind the series drawn later.
			svg.append(line(LEFT, Chart.y(accuracy), right, Chart.y(accuracy)).replace("/>", " stroke=\"#ddd\"/>"));
			svg.append(text(LEFT - 8, Chart.y(accuracy) + 4, "end", format(accuracy, 1)));
		}
		for (double tick : chart.xTicks()) {
			svg.append(line(chart.x(tick), bottom, chart.x(tick), bottom + 4));
			svg.append(text(chart.x(tick), bottom + 18, "middle", format(tick, 3)));
		}
		svg.append(text((LEFT + right) / 2, HEIGHT - 12, "middle", chart.axisLabel()));
		svg.append(text(16, (TOP + bottom) / 2, "middle", "accuracy").replace("<text ",
				"<text transform=\"rotate(-90 16 " + coordinate((TOP + bottom) / 2) + ")\" "));
		svg.append(text(LEFT, 20, "start", chart.title()));
		svg.append("</g>\n");
		int index = 0;
		for (Series series : chart.series()) {
			// Each series is its own group with its split and label as data attributes,
			// so a page or a test can find a line without parsing coordinates.
			svg.append("<g class=\"series\" data-split=\"")
				.append(escape(series.split()))
				.append("\" data-label=\"")
				.append(escape(series.label()))
				.append("\" stroke=\"")
				.append(series.color())
				.append("\" fill=\"")
				.append(series.color())
				.append("\">\n<polyline fill=\"none\" stroke-width=\"2\" points=\"");
			for (double[] point : series.points()) {
				svg.append(coordinate(chart.x(point[0]))).append(',').append(coordinate(Chart.y(point[1]))).append(' ');
			}
			svg.append("\"/>\n");
			for (double[] point : series.points()) {
				// Each point carries its exact value as a tooltip.
				svg.append("<circle cx=\"")
					.append(coordinate(chart.x(point[0])))
					.append("\" cy=\"")
					.append(coordinate(Chart.y(point[1])))
					.append("\" r=\"3\"><title>")
					.append(escape(series.label() + ": " + point[1] + " at " + point[0]))
					.append("</title></circle>\n");
			}
			double legend = TOP + 8 + index * 18;
			svg.append(line(WIDTH - RIGHT + 16, legend, WIDTH - RIGHT + 36, legend).replace("/>",
					" stroke-width=\"2\"/>"));
			svg.append(text(WIDTH - RIGHT + 42, legend + 4, "start", series.label()));
			svg.append("</g>\n");
			index++;
		}
		return svg.append("</svg>\n").toString();
	}

	private static String line(double x1, double y1, double x2, double y2) {
		return "<line x1=\"" + coordinate(x1) + "\" y1=\"" + coordinate(y1) + "\" x2=\"" + coordinate(x2) + "\" y2=\""
				+ coordinate(y2) + "\"/>\n";
	}

	private static String text(double x, double y, String anchor, String content) {
		return "<text x=\"" + coordinate(x) + "\" y=\"" + coordinate(y) + "\" text-anchor=\"" + anchor
				+ "\" stroke=\"none\" fill=\"#333\">" + escape(content) + "</text>\n";
	}

	// Locale.ROOT: a German default locale would write "12,50" and break the SVG.
	private static String coordinate(double value) {
		return String.format(Locale.ROOT, "%.2f", value);
	}

	private static String format(double value, int decimals) {
		return String.format(Locale.ROOT, "%." + decimals + "f", value);
	}

	/**
	 * Escapes text for XML content and attribute values; split names and labels come from
	 * the client.
	 */
	private static String escape(String text) {
		StringBuilder escaped = new StringBuilder(text.length());
		for (char c : text.toCharArray()) {
			switch (c) {
				case '&' -> escaped.append("&amp;");
				case '<' -> escaped.append("&lt;");
				case '>' -> escaped.append("&gt;");
				case '"' -> escaped.append("&quot;");
				case '\'' -> escaped.append("&apos;");
				default -> {
					// XML 1.0 has no representation for most control characters.
					if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') {
						escaped.append(c);
					}
				}
			}
		}
		return escaped.toString();
	}

	/** The same chart as a PNG image. */
	static byte[] png(SweepView sweep) throws IOException {
		Chart chart = chart(sweep);
		// No alpha channel: the image is opaque, white like the SVG's background rect.
		BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
		Graphics2D g = image.createGraphics();
		try {
			g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
			g.setColor(Color.WHITE);
			g.fillRect(0, 0, WIDTH, HEIGHT);
			double bottom = Chart.y(0);
			double right = chart.x(chart.xMax());
			g.setStroke(new BasicStroke(1));
			g.setColor(new Color(0xdd, 0xdd, 0xdd));
			for (int i = 1; i <= 5; i++) {
				g.draw(new Line2D.Double(LEFT, Chart.y(i / 5.0), right, Chart.y(i / 5.0)));
			}
			g.setColor(new Color(0x33, 0x33, 0x33));
			g.draw(new Line2D.Double(LEFT, bottom, right, bottom));
			g.draw(new Line2D.Double(LEFT, Chart.y(0), LEFT, Chart.y(1)));
			Labels labels = new Labels(g);
			for (int i = 0; i <= 5; i++) {
				g.draw(new Line2D.Double(LEFT - 4, Chart.y(i / 5.0), LEFT, Chart.y(i / 5.0)));
				// AWT cannot anchor text at its end as SVG does, so labels are placed by
				// a fixed offset that fits their few characters.
				labels.draw(format(i / 5.0, 1), LEFT - 30, Chart.y(i / 5.0) + 4);
			}
			for (double tick : chart.xTicks()) {
				g.draw(new Line2D.Double(chart.x(tick), bottom, chart.x(tick), bottom + 4));
				labels.draw(format(tick, 3), chart.x(tick) - 14, bottom + 18);
			}
			labels.draw(chart.axisLabel(), LEFT, HEIGHT - 12);
			labels.draw(chart.title(), LEFT, 20);
			int index = 0;
			for (Series series : chart.series()) {
				Color color = Color.decode(series.color());
				g.setColor(color);
				g.setStroke(new BasicStroke(2));
				Path2D.Double path = new Path2D.Double();
				for (int p = 0; p < series.points().size(); p++) {
					double[] point = series.points().get(p);
					if (p == 0) {
						path.moveTo(chart.x(point[0]), Chart.y(point[1]));
					}
					else {
						path.lineTo(chart.x(point[0]), Chart.y(point[1]));
					}
				}
				g.draw(path);
				for (double[] point : series.points()) {
					g.fill(new Ellipse2D.Double(chart.x(point[0]) - 3, Chart.y(point[1]) - 3, 6, 6));
				}
				double legend = TOP + 8 + index * 18;
				g.draw(new Line2D.Double(WIDTH - RIGHT + 16, legend, WIDTH - RIGHT + 36, legend));
				g.setColor(new Color(0x33, 0x33, 0x33));
				labels.draw(series.label(), WIDTH - RIGHT + 42, legend + 4);
				index++;
			}
		}
		finally {
			g.dispose();
		}
		ByteArrayOutputStream png = new ByteArrayOutputStream();
		ImageIO.write(image, "png", png);
		return png.toByteArray();
	}

	/**
	 * Draws text while fonts work: an image whose runtime has no fonts installed keeps
	 * its lines and legend swatches, unlabelled, rather than failing.
	 */
	private static final class Labels {

		private final Graphics2D g;

		private boolean broken;

		Labels(Graphics2D g) {
			this.g = g;
			g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
		}

		void draw(String text, double x, double y) {
			if (this.broken) {
				return;
			}
			try {
				this.g.drawString(text, (float) x, (float) y);
			}
			catch (RuntimeException | InternalError | UnsatisfiedLinkError ex) {
				// AWT reports a missing fontconfig or font file with these.
				this.broken = true;
			}
		}

	}

}
