// Runs an exported model.onnx with onnxruntime-node, an ONNX runtime independent of lab:
//   node onnx_logits.js MODEL.onnx TOKENS.json OUT.bin
// TOKENS.json is {"shape": [B, T], "tokens": [B·T ints]}; OUT.bin receives the logits [B, T, V] as
// little-endian float32. onnxruntime-node is found through NODE_PATH.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, tokensFile, out] = process.argv.slice(2);
  const { shape, tokens } = JSON.parse(fs.readFileSync(tokensFile, 'utf8'));
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  const input = new ort.Tensor('int64', BigInt64Array.from(tokens.map(BigInt)), shape);
  const result = await session.run({ tokens: input });
  const logits = result.logits;
  if (logits.type !== 'float32') throw new Error('logits are ' + logits.type + ', not float32');
  fs.writeFileSync(out, Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength));
  console.log(logits.dims.join(' '));
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
