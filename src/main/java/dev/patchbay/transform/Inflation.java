package dev.patchbay.transform;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.re2j.Pattern;

import dev.patchbay.engine.Reshaping;
import dev.patchbay.engine.TensorData;
import dev.patchbay.registry.ClientRegex;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.transform.Plan.Output;

/**
 * Cross-dimensional kernel inflation: 2D kernels [o, i, kh, kw] become 3D [o, i, kd, kh,
 * kw] by I3D replication (each slice the kernel divided by kd, so a video of identical
 * frames gives the image response) or by the kernel at the centre slice kd / 2 (zeros
 * elsewhere); {@code center_slice} takes a 3D kernel's centre slice back to 2D. Other
 * tensors are copied byte for byte.
 */
final class Inflation {

	private Inflation() {
	}

	/**
	 * Checks the request and every selected tensor, then returns producers that inflate
	 * one kernel at a time when the writer asks for it.
	 * @param request the {@code inflate} fields: {@code method}, {@code depth} (kd, for
	 * the two 2D-to-3D methods only) and {@code include} (regexes over tensor names; a
	 * tensor that matches none is copied unchanged)
	 * @param sources the source model's tensors
	 * @throws dev.patchbay.shared.InvalidInputException naming the invalid field
	 * @throws dev.patchbay.shared.UnprocessableException listing every selected tensor
	 * that cannot be inflated, all at once
	 */
	static Plan plan(Transform.Inflate request, Sources sources) {
		String method = request.method();
		if (method == null || !List.of("replicate", "center", "center_slice").contains(method)) {
			throw Transforms.invalid("method", "must be one of replicate, center, center_slice");
		}
		// replicate and center go from 2D to 3D and need kd; center_slice goes back and
		// reads kd from the kernel's own shape, so a depth given for it would be silently
		// unused.
		boolean toVolume = !method.equals("center_slice");
		Integer depth = request.depth();
		if (toVolume) {
			if (depth == null || depth < 1 || depth > 1024) {
				throw Transforms.invalid("depth", "is required for " + method + ": kd between 1 and 1024");
			}
			// An even kd has no middle slice: kd / 2 would sit off centre and shift the
			// temporal receptive field by half a frame.
			if (method.equals("center") && depth % 2 == 0) {
				throw Transforms.invalid("depth", "must be odd for center, so that there is a centre slice");
			}
		}
		else if (depth != null) {
			throw Transforms.invalid("depth", "is not used by center_slice (the kernel's kd is kept from its shape)");
		}
		if (request.include() == null || request.include().isEmpty()) {
			throw Transforms.invalid("include", "is required: regexes choosing the kernels");
		}
		// ClientRegex bounds the pattern and matches in linear time, so a hostile regex
		// cannot stall the request; the problem names the include[i] at fault.
		List<Pattern> include = new ArrayList<>();
		for (int i = 0; i < request.include().size(); i++) {
			try {
				include.add(ClientRegex.compile(request.include().get(i)));
			}
			catch (IllegalArgumentException ex) {
				throw Transforms.invalid("include[" + i + "]", ex.getMessage());
			}
		}
		// One pass collects every problem before anything is computed, so a bad request
		// is answered with all the faulty tensors and leaves nothing written.
		List<String> problems = new ArrayList<>();
		List<String> faulty = new ArrayList<>();
		List<String> selected = new ArrayList<>();
		List<Output> outputs = new ArrayList<>();
		for (StoredTensor tensor : sources.tensors()) {
			// Every tensor, selected or copied, must fit in one heap array, since each is
			// read whole when its turn to be written comes.
			Sources.size(tensor);
			boolean chosen = include.stream().anyMatch((p) -> p.matcher(tensor.name()).find());
			TensorSpec spec = tensor.spec();
			if (!chosen) {
				// Unselected tensors keep their stored bytes exactly, whatever the dtype.
				outputs.add(new Output(spec, () -> ByteBuffer.wrap(sources.bytes(tensor))));
				continue;
			}
			List<Long> shape = spec.shape();
			String problem = null;
			// Integer or boolean tensors would not survive the division by kd, and a
			// quantized kernel has to be dequantized first.
			if (!spec.dtype().isFloatingPoint()) {
				problem = "is " + spec.dtype() + ", not floating point";
			}
			else if (toVolume && shape.size() != 4) {
				problem = "has shape " + shape + "; " + method + " needs a 2D kernel [o, i, kh, kw]";
			}
			else if (!toVolume && shape.size() != 5) {
				problem = "has shape " + shape + "; center_slice needs a 3D kernel [o, i, kd, kh, kw]";
			}
			else if (!toVolume && shape.get(2) % 2 == 0) {
				problem = "has an even depth " + shape.get(2) + "; center_slice needs an odd kd";
			}
			// The inflated kernel is kd times larger and must still fit in one array.
			else if (toVolume && spec.elementCount() * depth * spec.dtype().byteSize() > Integer.MAX_VALUE - 8) {
				problem = "would exceed 2 GiB inflated";
			}
			if (problem != null) {
				problems.add("tensor '" + tensor.name() + "' " + problem);
				faulty.add(tensor.name());
				continue;
			}
			selected.add(tensor.name());
			// The kernel is seen as o * i channel planes of kh * kw values; inflation
			// only inserts the depth axis between them, so the o and i layout is
			// unchanged.
			int channels = Math.toIntExact(shape.get(0) * shape.get(1));
			if (toVolume) {
				List<Long> inflated = List.of(shape.get(0), shape.get(1), (long) depth, shape.get(2), shape.get(3));
				int plane = Math.toIntExact(shape.get(2) * shape.get(3));
				// The producer runs when the writer reaches this tensor, so only one
				// source and one inflated kernel are on the heap at a time. The
				// arithmetic is float32 whatever the source dtype, and the result is
				// encoded back to it, so the model keeps its dtype.
				outputs.add(new Output(new TensorSpec(tensor.name(), spec.dtype(), inflated), () -> {
					float[] values = Reshaping.inflate(sources.floats(tensor), channels, plane, depth,
							method.equals("replicate"));
					return TensorData.encode(values, values.length, spec.dtype());
				}));
			}
			else {
				int kd = Math.toIntExact(shape.get(2));
				int plane = Math.toIntExact(shape.get(3) * shape.get(4));
				List<Long> flat = List.of(shape.get(0), shape.get(1), shape.get(3), shape.get(4));
				outputs.add(new Output(new TensorSpec(tensor.name(), spec.dtype(), flat), () -> {
					float[] values = Reshaping.centreSlice(sources.floats(tensor), channels, kd, plane);
					return TensorData.encode(values, values.length, spec.dtype());
				}));
			}
		}
		if (!problems.isEmpty()) {
			throw Transforms.impossible("include", problems, faulty);
		}
		if (selected.isEmpty()) {
			throw Transforms.invalid("include", "matches no tensor of the model");
		}
		// The report goes into the response and the model's stored config, so a derived
		// model shows how it was made.
		Map<String, Object> report = new LinkedHashMap<>();
		report.put("kind", "inflate");
		report.put("method", method);
		if (depth != null) {
			report.put("depth", depth);
		}
		report.put("tensors", selected);
		return new Plan(outputs, (json) -> {
		}, report);
	}

}
