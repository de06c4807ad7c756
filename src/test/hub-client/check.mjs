// Reads repos through the official Hub client, as a user with hubUrl set would, and prints
// what it saw as JSON: the file list, the sha256 of every downloaded file, and the parsed
// safetensors metadata. Usage: node check.mjs <hubUrl> <accessToken> <repo>...
import { createHash } from "node:crypto";
import { downloadFile, listFiles, parseSafetensorsMetadata } from "@huggingface/hub";

const [hubUrl, accessToken, ...repos] = process.argv.slice(2);
const result = {};
for (const repo of repos) {
	const files = [];
	for await (const entry of listFiles({ repo, hubUrl, accessToken, recursive: true })) {
		files.push({ path: entry.path, size: entry.size, type: entry.type });
	}
	const sha256 = {};
	for (const file of files.filter((entry) => entry.type === "file")) {
		const blob = await downloadFile({ repo, path: file.path, hubUrl, accessToken });
		sha256[file.path] = createHash("sha256")
			.update(Buffer.from(await blob.arrayBuffer()))
			.digest("hex");
	}
	const adapter = files.some((entry) => entry.path === "adapter_model.safetensors");
	const parsed = await parseSafetensorsMetadata({
		repo,
		hubUrl,
		accessToken,
		...(adapter ? { path: "adapter_model.safetensors" } : {}),
	});
	const headers = parsed.sharded ? Object.values(parsed.headers) : [parsed.header];
	const tensors = {};
	for (const header of headers) {
		for (const [name, info] of Object.entries(header)) {
			if (name !== "__metadata__") {
				tensors[name] = info.shape;
			}
		}
	}
	result[repo] = {
		files,
		sha256,
		sharded: parsed.sharded,
		filepaths: parsed.filepaths,
		formats: headers.map((header) => header.__metadata__?.format ?? null),
		tensors,
	};
}
console.log(JSON.stringify(result));
