package dev.patchbay.api;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import dev.patchbay.support.ApiClient;

/**
 * A GET over a plain socket whose reader sets its own pace: a small receive buffer, so
 * that what the server sends waits in its own socket until the reader takes it.
 */
final class RawDownload implements Closeable {

	private final Socket socket;

	final InputStream in;

	final int status;

	final long contentLength;

	private RawDownload(Socket socket, InputStream in, int status, long contentLength) {
		this.socket = socket;
		this.in = in;
		this.status = status;
		this.contentLength = contentLength;
	}

	static RawDownload open(int port, String path, String... headers) throws IOException {
		Socket socket = new Socket();
		socket.setReceiveBufferSize(16 << 10);
		// Every read in a test ends within this, so a hung response fails the test.
		socket.setSoTimeout(10_000);
		socket.connect(new InetSocketAddress("127.0.0.1", port));
		StringBuilder request = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n")
			.append("Authorization: Bearer ")
			.append(ApiClient.TEST_ADMIN_KEY)
			.append("\r\n");
		for (int i = 0; i < headers.length; i += 2) {
			request.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
		}
		socket.getOutputStream().write(request.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
		InputStream in = new BufferedInputStream(socket.getInputStream(), 8 << 10);
		String head = readHead(in);
		int status = Integer.parseInt(head.substring(9, 12));
		long contentLength = -1;
		for (String line : head.split("\r\n")) {
			if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
				contentLength = Long.parseLong(line.substring(15).strip());
			}
		}
		return new RawDownload(socket, in, status, contentLength);
	}

	/**
	 * Reads until the server ends the connection.
	 * @return the body bytes received
	 */
	long drain() throws IOException {
		byte[] buffer = new byte[64 << 10];
		long total = 0;
		try {
			for (int n; (n = this.in.read(buffer)) >= 0;) {
				total += n;
				if (total > this.contentLength) {
					throw new IllegalStateException("more bytes than Content-Length");
				}
			}
		}
		catch (SocketException ex) {
			// A reset is an end too.
		}
		return total;
	}

	private static String readHead(InputStream in) throws IOException {
		ByteArrayOutputStream head = new ByteArrayOutputStream();
		int matched = 0;
		while (matched < 4) {
			int b = in.read();
			if (b < 0) {
				throw new IOException("connection closed in the response head");
			}
			head.write(b);
			matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : ((b == '\r') ? 1 : 0);
		}
		return head.toString(StandardCharsets.US_ASCII);
	}

	@Override
	public void close() throws IOException {
		this.socket.close();
	}

}
