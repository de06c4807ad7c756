package dev.patchbay.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The loopback floor for downloads: serves one file over HTTP/1.1 with
 * {@link FileChannel#transferTo}, nothing else. What curl reaches against it is the most
 * any HTTP download of those bytes can reach here. The benchmark runs it on a thread;
 * {@code java LoopbackFloor.java FILE PORT} runs it alone, then
 * {@code curl -o /dev/null http://127.0.0.1:PORT/}.
 */
final class LoopbackFloor implements AutoCloseable {

	private final ServerSocketChannel server;

	private final Path file;

	private final Thread thread;

	private LoopbackFloor(Path file, int port) throws IOException {
		this.file = file;
		this.server = ServerSocketChannel.open();
		this.server.bind(new InetSocketAddress("127.0.0.1", port));
		this.thread = new Thread(this::serve, "loopback-floor");
		this.thread.setDaemon(true);
		this.thread.start();
	}

	/** Serves the file on a free port until closed. */
	static LoopbackFloor serve(Path file) throws IOException {
		return new LoopbackFloor(file, 0);
	}

	String url() throws IOException {
		return "http://127.0.0.1:" + ((InetSocketAddress) this.server.getLocalAddress()).getPort() + "/";
	}

	private void serve() {
		while (this.server.isOpen()) {
			try (SocketChannel client = this.server.accept(); FileChannel in = FileChannel.open(this.file)) {
				// The request: its content does not matter.
				client.read(ByteBuffer.allocate(16 << 10));
				long size = in.size();
				client.write(
						ByteBuffer.wrap(("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\nConnection: close\r\n\r\n")
							.getBytes(StandardCharsets.US_ASCII)));
				for (long sent = 0; sent < size;) {
					sent += in.transferTo(sent, size - sent, client);
				}
			}
			catch (ClosedChannelException ex) {
				return;
			}
			catch (IOException ex) {
				// A client that went away; serve the next one.
			}
		}
	}

	@Override
	public void close() throws IOException {
		this.server.close();
		try {
			this.thread.join();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	public static void main(String[] args) throws Exception {
		try (LoopbackFloor floor = new LoopbackFloor(Path.of(args[0]), Integer.parseInt(args[1]))) {
			floor.thread.join();
		}
	}

}
