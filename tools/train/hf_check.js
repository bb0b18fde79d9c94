// Cross-checks tools/train/bpe.py against Hugging Face's own `tokenizers` (Rust, npm package
// `tokenizers`, installed by tools/tokenizer_ref/setup.sh): encodes each text file with
// tokenizer.json (with and without special tokens) and writes the ids as JSON for
// check_tokenizer.py to compare.
//
//   node hf_check.js NODE_MODULES TOKENIZER_JSON OUT_JSON FILE...
"use strict";
const fs = require("fs");
const path = require("path");

const [nodeModules, tokFile, outFile, ...files] = process.argv.slice(2);
if (!nodeModules || !tokFile || !outFile || files.length === 0) {
  console.error("usage: node hf_check.js NODE_MODULES TOKENIZER_JSON OUT_JSON FILE...");
  process.exit(2);
}
const { Tokenizer } = require(path.join(nodeModules, "tokenizers"));

(async () => {
  const tok = Tokenizer.fromFile(tokFile);
  const out = {};
  for (const f of files) {
    const text = fs.readFileSync(f, "utf8");
    const plain = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    const special = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    const decoded = await tok.decode(special, true);
    out[f] = { plain, special, decoded_roundtrip: decoded === text };
  }
  fs.writeFileSync(outFile, JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
