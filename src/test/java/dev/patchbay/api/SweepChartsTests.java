package dev.patchbay.api;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import static org.assertj.core.api.Assertions.assertThat;

class SweepChartsTests {

	private static final String SVG = "http://www.w3.org/2000/svg";

	/**
	 * Two terms of two weights each, on two splits, one of them with markup in its name.
	 */
	private static SweepView sweep() {
		List<String> inputs = List.of("clean", "a&b<\"c\">");
		SweepRequest request = new SweepRequest(UUID.randomUUID().toString(),
				List.of(new SweepRequest.Term(UUID.randomUUID().toString(), List.of(0.0, 1.0)),
						new SweepRequest.Term(UUID.randomUUID().toString(), List.of(0.5, 2.0))),
				null, null, null, null, UUID.randomUUID().toString(), inputs, "labels",
				new SweepRequest.Objective("mean"), 256);
		List<SweepView.Result> results = new ArrayList<>();
		for (double first : List.of(0.0, 1.0)) {
			for (double second : List.of(0.5, 2.0)) {
				Map<String, Double> accuracy = new LinkedHashMap<>();
				accuracy.put(inputs.get(0), 0.25 * first + 0.125 * second);
				accuracy.put(inputs.get(1), 0.5);
				results.add(new SweepView.Result(List.of(first, second), accuracy));
			}
		}
		return new SweepView(UUID.randomUUID(), "done", new SweepView.Progress(4, 4), request, results, null, 10L, null,
				Instant.now());
	}

	@Test
	void csvHasAWeightColumnPerTermThenASplitColumnPerInputAndARowPerPoint() {
		List<String> lines = SweepCharts.csv(sweep()).lines().toList();
		assertThat(lines.get(0)).isEqualTo("weight_0,weight_1,clean,\"a&b<\"\"c\"\">\"");
		assertThat(lines).hasSize(5);
		assertThat(lines.get(2)).isEqualTo("0.0,2.0,0.25,0.5");
		assertThat(lines.get(3)).isEqualTo("1.0,0.5,0.3125,0.5");
	}

	@Test
	void svgHasASeriesPerSplitAndCombinationOfTheOtherTermsWeightsAndEscapesNames() throws Exception {
		String svg = SweepCharts.svg(sweep());
		DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
		factory.setNamespaceAware(true);
		Document document = factory.newDocumentBuilder()
			.parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
		NodeList groups = document.getElementsByTagNameNS(SVG, "g");
		List<String> labels = new ArrayList<>();
		for (int i = 0; i < groups.getLength(); i++) {
			Element group = (Element) groups.item(i);
			if (group.getAttribute("class").equals("series")) {
				labels.add(group.getAttribute("data-label"));
				String points = ((Element) group.getElementsByTagNameNS(SVG, "polyline").item(0))
					.getAttribute("points");
				assertThat(points.trim().split("\\s+")).as("a point per weight of the first term").hasSize(2);
			}
		}
		assertThat(labels).containsExactlyInAnyOrder("clean (w1=0.5)", "a&b<\"c\"> (w1=0.5)", "clean (w1=2.0)",
				"a&b<\"c\"> (w1=2.0)");
	}

	@Test
	void theXAxisIsTheFirstTermWithMoreThanOneWeight() throws Exception {
		SweepView sweep = sweep();
		SweepRequest request = new SweepRequest(sweep.request().baseModelId(),
				List.of(new SweepRequest.Term(UUID.randomUUID().toString(), List.of(1.0)),
						sweep.request().terms().get(1)),
				null, null, null, null, sweep.request().datasetId(), sweep.request().inputs(), "labels",
				sweep.request().objective(), 256);
		List<SweepView.Result> results = sweep.results()
			.stream()
			.filter((result) -> result.weights().get(0) == 1.0)
			.toList();
		String svg = SweepCharts.svg(new SweepView(sweep.id(), "done", new SweepView.Progress(2, 2), request, results,
				null, 1L, null, Instant.now()));
		assertThat(svg).contains("weight of term 1").contains("data-label=\"clean (w0=1.0)\"");
	}

	@Test
	void pngDecodes() throws Exception {
		BufferedImage image = ImageIO.read(new ByteArrayInputStream(SweepCharts.png(sweep())));
		assertThat(image).isNotNull();
		assertThat(image.getWidth()).isEqualTo(720);
		assertThat(image.getHeight()).isEqualTo(420);
		// The first series' colour is drawn somewhere: the chart is not blank.
		boolean drawn = false;
		for (int x = 0; x < image.getWidth() && !drawn; x++) {
			for (int y = 0; y < image.getHeight() && !drawn; y++) {
				drawn = (image.getRGB(x, y) & 0xffffff) == 0x1f77b4;
			}
		}
		assertThat(drawn).isTrue();
	}

}
