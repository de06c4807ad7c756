package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.List;

import org.springframework.stereotype.Component;

import dev.patchbay.composition.Plan.TensorPlan;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.BlobPins;
import dev.patchbay.storage.SafetensorsWriter;

/**
 * The merged deltas of one recipe at many weight vectors, for a caller that keeps the
 * base itself (strength sweeps): the recipe is planned once, and each run computes only
 * the tensors its terms touch, as float32 deltas handed over one tensor at a time.
 * Nothing is stored or registered.
 */
@Component
public class MergedDeltas {

	private final Planner planner;

	private final Registry registry;

	private final TensorEngine engine;

	private final CompositionProperties properties;

	MergedDeltas(Planner planner, Registry registry, TensorEngine engine, CompositionProperties properties) {
		this.registry = registry;
		this.planner = planner;
		this.engine = engine;
		this.properties = properties;
	}

	/** Receives one tensor's merged delta. */
	@FunctionalInterface
	public interface Sink {

		void accept(String tensor, float[] delta) throws IOException;

	}

	/**
	 * Checks a PEFT-dialect recipe against its inputs' metadata, reading no blob.
	 * @throws dev.patchbay.shared.InvalidInputException for a malformed recipe
	 * @throws dev.patchbay.registry.ArtifactNotFoundException for an unknown model or
	 * patch
	 * @throws CompositionInvalidException listing every incompatible tensor
	 */
	public void check(RecipeDraft.Peft draft) {
		this.planner.validate(recipe(draft));
	}

	/**
	 * Plans a recipe with the local files of its inputs, for runs at any weights; the
	 * files stay pinned until the result is closed.
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if an input was deleted
	 * @throws CompositionInvalidException listing every incompatible tensor
	 */
	public Prepared prepare(RecipeDraft.Peft draft) {
		BlobPins pins = this.registry.pins();
		try {
			return prepare(draft, pins);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	private Prepared prepare(RecipeDraft.Peft draft, BlobPins pins) {
		Plan plan = this.planner.plan(recipe(draft), pins);
		// Float32 deltas of the touched tensors only: the caller holds every other one.
		List<TensorPlan> touched = plan.tensors()
			.stream()
			.filter((tensor) -> !tensor.untouched())
			.map((tensor) -> new TensorPlan(new TensorSpec(tensor.output().name(), DType.F32, tensor.output().shape()),
					tensor.base(), tensor.terms(), tensor.tuning()))
			.toList();
		return new Prepared(
				new Plan(touched, plan.method(), plan.weights(), plan.baseless(), plan.finite(), plan.precision()),
				pins);
	}

	private Recipe recipe(RecipeDraft.Peft draft) {
		return Recipe.from(draft, this.properties.maxTerms(), this.registry::resolve);
	}

	/** A planned recipe. */
	public final class Prepared implements AutoCloseable {

		private final Plan plan;

		private final BlobPins pins;

		private Prepared(Plan plan, BlobPins pins) {
			this.plan = plan;
			this.pins = pins;
		}

		/** Lets the inputs' files go. */
		@Override
		public void close() {
			this.pins.close();
		}

		/** The tensors the terms touch, in the order their deltas arrive. */
		public List<TensorSpec> tensors() {
			return this.plan.outputSpecs();
		}

		/**
		 * Computes the merged delta of every touched tensor at the given weights, one per
		 * term, handing each to the sink as soon as it is complete.
		 * @throws IOException if an input cannot be read
		 * @throws dev.patchbay.shared.UnprocessableException if a delta would hold NaN or
		 * an infinity
		 */
		public void run(double[] weights, Sink sink) throws IOException {
			if (weights.length != this.plan.weights().length) {
				throw new IllegalArgumentException(
						weights.length + " weights for " + this.plan.weights().length + " terms");
			}
			float[] narrowed = new float[weights.length];
			for (int i = 0; i < weights.length; i++) {
				narrowed[i] = (float) weights[i];
			}
			Plan run = new Plan(this.plan.tensors(), this.plan.method(), narrowed, this.plan.baseless(),
					this.plan.finite(), this.plan.precision());
			new PlanExecutor(run, MergedDeltas.this.engine, MergedDeltas.this.properties.chunkElements(), true)
				.execute(new TensorSplitter(run.outputSpecs(), sink), (tensorsDone) -> {
				});
		}

	}

	/**
	 * Reads the executor's safetensors stream back into tensors: skips the header, then
	 * cuts the data at tensor boundaries. Memory holds one tensor.
	 */
	private static final class TensorSplitter implements WritableByteChannel {

		private final List<TensorSpec> specs;

		private final Sink sink;

		private long header;

		private int index;

		private ByteBuffer current;

		TensorSplitter(List<TensorSpec> specs, Sink sink) {
			this.specs = specs;
			this.sink = sink;
			long data = specs.stream().mapToLong(TensorSpec::byteSize).sum();
			this.header = SafetensorsWriter.fileSize(specs, Plan.METADATA) - data;
		}

		@Override
		public int write(ByteBuffer source) throws IOException {
			int written = source.remaining();
			while (source.hasRemaining()) {
				if (this.header > 0) {
					int skip = (int) Math.min(this.header, source.remaining());
					source.position(source.position() + skip);
					this.header -= skip;
					continue;
				}
				if (this.current == null) {
					this.current = ByteBuffer.allocate(Math.toIntExact(this.specs.get(this.index).byteSize()))
						.order(ByteOrder.LITTLE_ENDIAN);
				}
				int take = Math.min(this.current.remaining(), source.remaining());
				ByteBuffer slice = source.slice(source.position(), take);
				this.current.put(slice);
				source.position(source.position() + take);
				if (!this.current.hasRemaining()) {
					this.current.flip();
					float[] values = new float[this.current.remaining() / Float.BYTES];
					this.current.asFloatBuffer().get(values);
					this.sink.accept(this.specs.get(this.index).name(), values);
					this.current = null;
					this.index++;
				}
			}
			return written;
		}

		@Override
		public boolean isOpen() {
			return true;
		}

		@Override
		public void close() {
		}

	}

}
