/**
 * Text for classification: a `TextVectorizer` that learns a vocabulary from data and turns a string
 * into token ids (Keras' `TextVectorization` with `output_mode="int"`), and a
 * `TextClassificationDataset` that reads labelled text from a TSV file or a folder of class folders.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { DataError } from "./errors.js";
import type { Dataset } from "./types.js";

/** How text is cleaned before it is split into tokens. */
export type Standardize = "lower_and_strip_punctuation" | "lower" | "none";

/** Options of a `TextVectorizer`. */
export interface TextVectorizerOptions {
  /** Largest vocabulary size, counting the two reserved entries ("" and "[UNK]"). Default: unlimited. */
  maxTokens?: number;
  /** Pad (with 0, at the end) or truncate every output to this length. Default: the text's own length. */
  outputSequenceLength?: number;
  /** Default "lower_and_strip_punctuation". */
  standardize?: Standardize;
  /** Only "whitespace" (runs of Unicode whitespace). */
  split?: "whitespace";
}

/** A `TextVectorizer` as JSON, to save next to a checkpoint. */
export interface TextVectorizerJSON {
  maxTokens: number | null;
  outputSequenceLength: number | null;
  standardize: Standardize;
  split: "whitespace";
  /** The full vocabulary, index 0 = "" (padding), 1 = "[UNK]". */
  vocabulary: string[];
}

/** Vocabulary index of padding. */
export const PAD_INDEX = 0;
/** Vocabulary index of every out-of-vocabulary token. */
export const UNK_INDEX = 1;
const UNK_TOKEN = "[UNK]";

// Keras' DEFAULT_STRIP_REGEX: the ASCII punctuation of Python's string.punctuation.
const PUNCTUATION = /[!"#$%&()*+,\-./:;<=>?@[\\\]^_`{|}~']/g;
const WHITESPACE = /\s+/u;
const STANDARDIZE_MODES: readonly Standardize[] = ["lower_and_strip_punctuation", "lower", "none"];

/**
 * Maps text to token ids with a vocabulary learned by `adapt`: index 0 is padding (""), 1 is the
 * out-of-vocabulary token ("[UNK]"), then the tokens by falling frequency, ties broken by first
 * appearance (so the vocabulary depends only on the texts and their order).
 *
 * @example
 * const v = new TextVectorizer({ maxTokens: 10, outputSequenceLength: 4 });
 * v.adapt(["The cat sat.", "the dog sat"]);
 * v.vocabulary(); // ["", "[UNK]", "the", "sat", "cat", "dog"]
 * v.vectorize("The bird sat"); // Int32Array [2, 1, 3, 0]
 */
export class TextVectorizer {
  readonly maxTokens: number | undefined;
  readonly outputSequenceLength: number | undefined;
  readonly standardize: Standardize;
  readonly split: "whitespace";
  private vocab: string[] = [];
  private index = new Map<string, number>();

  constructor(options: TextVectorizerOptions = {}) {
    const {
      maxTokens,
      outputSequenceLength,
      standardize = "lower_and_strip_punctuation",
      split = "whitespace",
    } = options;
    if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 3)) {
      throw new RangeError(
        `TextVectorizer: maxTokens must be an integer ≥ 3 (it counts "" and "[UNK]"), got ${maxTokens}`,
      );
    }
    if (
      outputSequenceLength !== undefined &&
      (!Number.isInteger(outputSequenceLength) || outputSequenceLength < 1)
    ) {
      throw new RangeError(
        `TextVectorizer: outputSequenceLength must be a positive integer, got ${outputSequenceLength}`,
      );
    }
    if (!STANDARDIZE_MODES.includes(standardize)) {
      throw new RangeError(
        `TextVectorizer: standardize must be one of ${STANDARDIZE_MODES.join(", ")}, got ${standardize}`,
      );
    }
    if (split !== "whitespace")
      throw new RangeError(`TextVectorizer: split must be "whitespace", got ${split}`);
    this.maxTokens = maxTokens;
    this.outputSequenceLength = outputSequenceLength;
    this.standardize = standardize;
    this.split = split;
  }

  /**
   * The tokens of one text after standardization and splitting, before the vocabulary lookup.
   *
   * @example
   * new TextVectorizer().tokenize("Hello, World!"); // ["hello", "world"]
   */
  tokenize(text: string): string[] {
    let s = text;
    if (this.standardize !== "none") s = s.toLowerCase();
    if (this.standardize === "lower_and_strip_punctuation") s = s.replace(PUNCTUATION, "");
    return s.split(WHITESPACE).filter((t) => t.length > 0);
  }

  /**
   * Learns the vocabulary from `texts`, replacing any previous one.
   *
   * @example
   * const v = new TextVectorizer();
   * v.adapt(["a b b", "c"]);
   * v.vocabulary(); // ["", "[UNK]", "b", "a", "c"]
   */
  adapt(texts: Iterable<string>): void {
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const token of this.tokenize(text)) {
        // A literal "[UNK]" in the data already maps to index 1; it must not take a second slot.
        if (token === UNK_TOKEN) continue;
        counts.set(token, (counts.get(token) ?? 0) + 1);
      }
    }
    // Map iteration order is insertion order, and Array.prototype.sort is stable: equal counts keep
    // their first-appearance order.
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    const keep = this.maxTokens === undefined ? ranked.length : Math.min(ranked.length, this.maxTokens - 2);
    const vocab = ["", UNK_TOKEN];
    for (let i = 0; i < keep; i++) vocab.push((ranked[i] as [string, number])[0]);
    this.setVocabulary(vocab);
  }

  /**
   * The vocabulary, index by index ("" and "[UNK]" first); empty before `adapt`.
   *
   * @example
   * const v = new TextVectorizer();
   * v.adapt(["hi"]);
   * v.vocabulary(); // ["", "[UNK]", "hi"]
   */
  vocabulary(): string[] {
    return [...this.vocab];
  }

  /** Number of entries in the vocabulary, the reserved two included (an embedding's row count). */
  get vocabularySize(): number {
    return this.vocab.length;
  }

  /**
   * Token ids of `text`: unknown tokens are 1; with `outputSequenceLength` the result is padded with 0 at
   * the end or truncated to that length.
   *
   * @example
   * const v = new TextVectorizer({ outputSequenceLength: 3 });
   * v.adapt(["red green"]);
   * v.vectorize("green blue"); // Int32Array [3, 1, 0]
   */
  vectorize(text: string): Int32Array {
    if (this.vocab.length === 0) {
      throw new Error(
        "TextVectorizer.vectorize: no vocabulary yet; call adapt(texts) or build it with TextVectorizer.fromJSON",
      );
    }
    const tokens = this.tokenize(text);
    const n = this.outputSequenceLength ?? tokens.length;
    const out = new Int32Array(n);
    const m = Math.min(n, tokens.length);
    for (let i = 0; i < m; i++) out[i] = this.index.get(tokens[i] as string) ?? UNK_INDEX;
    return out;
  }

  /**
   * The settings and vocabulary as JSON (for `JSON.stringify`).
   *
   * @example
   * const v = new TextVectorizer({ maxTokens: 100 });
   * v.adapt(["x y"]);
   * const same = TextVectorizer.fromJSON(JSON.parse(JSON.stringify(v)));
   */
  toJSON(): TextVectorizerJSON {
    return {
      maxTokens: this.maxTokens ?? null,
      outputSequenceLength: this.outputSequenceLength ?? null,
      standardize: this.standardize,
      split: this.split,
      vocabulary: this.vocabulary(),
    };
  }

  /**
   * Rebuilds a vectorizer from `toJSON()`'s output.
   *
   * @example
   * const v = TextVectorizer.fromJSON({ maxTokens: null, outputSequenceLength: 2, standardize: "lower", split: "whitespace", vocabulary: ["", "[UNK]", "hi"] });
   * v.vectorize("HI there"); // Int32Array [2, 1]
   */
  static fromJSON(json: TextVectorizerJSON): TextVectorizer {
    const vocab = json?.vocabulary;
    if (
      !Array.isArray(vocab) ||
      vocab[0] !== "" ||
      vocab[1] !== UNK_TOKEN ||
      vocab.some((t) => typeof t !== "string")
    ) {
      throw new Error(
        'TextVectorizer.fromJSON: vocabulary must be an array of strings starting with "" and "[UNK]"',
      );
    }
    const options: TextVectorizerOptions = { standardize: json.standardize, split: json.split };
    if (json.maxTokens !== null && json.maxTokens !== undefined) options.maxTokens = json.maxTokens;
    if (json.outputSequenceLength !== null && json.outputSequenceLength !== undefined) {
      options.outputSequenceLength = json.outputSequenceLength;
    }
    const v = new TextVectorizer(options);
    v.setVocabulary(vocab);
    return v;
  }

  private setVocabulary(vocab: string[]): void {
    this.vocab = vocab;
    this.index = new Map();
    for (let i = 0; i < vocab.length; i++) this.index.set(vocab[i] as string, i);
  }
}

/** Options of `TextClassificationDataset.load`. */
export interface TextClassificationOptions {
  /**
   * A vectorizer to reuse (the training split's, for a test split). One without a vocabulary is adapted
   * on these texts. Default: a new one with `maxTokens` and `maxLen`, adapted on these texts.
   */
  vectorizer?: TextVectorizer;
  /** Vocabulary size of the vectorizer made when none is given. Default 20000. */
  maxTokens?: number;
  /** Sequence length of the vectorizer made when none is given. Default 64. */
  maxLen?: number;
  /**
   * The class names, in label order (the training split's `classes`, for a test split). A label not in
   * the list is a DataError. Default: the labels found, sorted.
   */
  classes?: string[];
}

/**
 * Labelled texts, vectorized: each sample is `{ tokens: Int32Array /* maxLen ids *\/, label }`.
 *
 * Reads either a TSV file — one `label<TAB>text` per line; blank lines and lines starting with `#`
 * are skipped — or a folder with one subfolder per class holding `.txt` files, one text per file.
 *
 * @example
 * const train = await TextClassificationDataset.load("corpus/train.tsv", { maxLen: 32 });
 * const test = await TextClassificationDataset.load("corpus/test.tsv", { vectorizer: train.vectorizer, classes: train.classes });
 * train.get(0); // { tokens: Int32Array(32), label: 2 }
 */
export class TextClassificationDataset implements Dataset<{ tokens: Int32Array; label: number }> {
  readonly classes: string[];
  readonly vectorizer: TextVectorizer;
  readonly texts: string[];
  readonly labels: Int32Array;
  private readonly tokens: Int32Array[];

  private constructor(classes: string[], vectorizer: TextVectorizer, texts: string[], labels: Int32Array) {
    this.classes = classes;
    this.vectorizer = vectorizer;
    this.texts = texts;
    this.labels = labels;
    this.tokens = texts.map((t) => vectorizer.vectorize(t));
  }

  /**
   * Reads a TSV file or a folder of class folders (see the class doc).
   *
   * @example
   * const ds = await TextClassificationDataset.load("reviews/", { maxTokens: 5000, maxLen: 128 });
   * ds.classes; // ["neg", "pos"]
   */
  static async load(
    path: string,
    options: TextClassificationOptions = {},
  ): Promise<TextClassificationDataset> {
    const { maxTokens = 20000, maxLen = 64 } = options;
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      throw new DataError(
        "not found; pass a TSV file (label<TAB>text per line) or a folder with one subfolder of .txt files per class",
        path,
      );
    }
    const raw = info.isDirectory() ? await readTextFolder(path) : await readTsv(path);
    if (raw.texts.length === 0) {
      throw new DataError(
        info.isDirectory()
          ? "no .txt files in any class subfolder; expected <folder>/<class>/<name>.txt"
          : "no labelled lines; expected label<TAB>text per line",
        path,
      );
    }
    let classes: string[];
    if (options.classes !== undefined) {
      classes = [...options.classes];
      const known = new Set(classes);
      for (let i = 0; i < raw.labels.length; i++) {
        const label = raw.labels[i] as string;
        if (!known.has(label)) {
          throw new DataError(
            `label "${label}" is not one of the given classes (${classes.join(", ")}); fix the label or add the class`,
            raw.origins[i],
          );
        }
      }
    } else {
      // Code-point order, like the class folders of ImageFolder: the same names always give the same ids.
      classes = raw.classes ?? [...new Set(raw.labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    const classIndex = new Map(classes.map((c, i) => [c, i]));
    const labels = new Int32Array(raw.labels.length);
    for (let i = 0; i < labels.length; i++) labels[i] = classIndex.get(raw.labels[i] as string) as number;
    const vectorizer = options.vectorizer ?? new TextVectorizer({ maxTokens, outputSequenceLength: maxLen });
    if (vectorizer.vocabularySize === 0) vectorizer.adapt(raw.texts);
    return new TextClassificationDataset(classes, vectorizer, raw.texts, labels);
  }

  get length(): number {
    return this.texts.length;
  }

  /** The sample at `index`: token ids (a fresh copy, safe to transfer) and the class index. */
  get(index: number): { tokens: Int32Array; label: number } {
    if (!Number.isInteger(index) || index < 0 || index >= this.texts.length) {
      throw new RangeError(
        `TextClassificationDataset.get: index ${index} is outside [0, ${this.texts.length})`,
      );
    }
    return { tokens: (this.tokens[index] as Int32Array).slice(), label: this.labels[index] as number };
  }
}

interface RawTexts {
  texts: string[];
  labels: string[];
  /** Where each text came from ("file:line" or the .txt path), for errors. */
  origins: string[];
  /** A folder's class subfolders (all of them, even one without .txt files, like ImageFolder). */
  classes?: string[];
}

async function readTsv(path: string): Promise<RawTexts> {
  const content = await readFile(path, "utf8");
  const out: RawTexts = { texts: [], labels: [], origins: [] };
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "" || line.startsWith("#")) continue;
    const where = `${path}:${i + 1}`;
    const tab = line.indexOf("\t");
    if (tab < 0)
      throw new DataError("no tab; each line must be label<TAB>text (comment lines start with #)", where);
    const label = line.slice(0, tab).trim();
    if (label === "")
      throw new DataError("empty label before the tab; each line must be label<TAB>text", where);
    out.labels.push(label);
    out.texts.push(line.slice(tab + 1));
    out.origins.push(where);
  }
  return out;
}

async function readTextFolder(root: string): Promise<RawTexts> {
  const out: RawTexts = { texts: [], labels: [], origins: [] };
  const entries = await readdir(root, { withFileTypes: true });
  const classDirs = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
  if (classDirs.length === 0) {
    throw new DataError(
      "no class subfolders; expected <folder>/<class>/<name>.txt (or pass a TSV file)",
      root,
    );
  }
  out.classes = classDirs;
  for (const cls of classDirs) {
    const dir = join(root, cls);
    const files = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith(".") && e.name.toLowerCase().endsWith(".txt"))
      .map((e) => e.name)
      .sort();
    for (const f of files) {
      const p = join(dir, f);
      out.texts.push(await readFile(p, "utf8"));
      out.labels.push(basename(dir));
      out.origins.push(p);
    }
  }
  return out;
}
