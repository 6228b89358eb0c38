import { describe, expect, it } from "vitest";
import { TextVectorizer } from "../src/text.js";

describe("TextVectorizer", () => {
  it("reserves 0 for padding and 1 for [UNK], then ranks tokens by frequency with ties by first appearance", () => {
    const v = new TextVectorizer();
    v.adapt(["b a c", "a d b", "a"]);
    // a ×3, then b ×2, then c and d ×1 in first-appearance order.
    expect(v.vocabulary()).toEqual(["", "[UNK]", "a", "b", "c", "d"]);
  });

  it("gives the same vocabulary for the same texts (deterministic)", () => {
    const texts = ["z y x", "x y", "w v u t", "t u"];
    const a = new TextVectorizer();
    const b = new TextVectorizer();
    a.adapt(texts);
    b.adapt(texts);
    expect(a.vocabulary()).toEqual(b.vocabulary());
  });

  it("counts the two reserved entries in maxTokens", () => {
    const v = new TextVectorizer({ maxTokens: 4 });
    v.adapt(["a a a b b c"]);
    expect(v.vocabulary()).toEqual(["", "[UNK]", "a", "b"]);
    expect(v.vectorize("c a")).toEqual(new Int32Array([1, 2]));
  });

  it("lowercases and strips ASCII punctuation by default, like Keras", () => {
    const v = new TextVectorizer();
    expect(v.tokenize("Hello, World! It's  e-mail\t(ok)")).toEqual(["hello", "world", "its", "email", "ok"]);
    expect(new TextVectorizer({ standardize: "lower" }).tokenize("Hi, THERE")).toEqual(["hi,", "there"]);
    expect(new TextVectorizer({ standardize: "none" }).tokenize("Hi THERE")).toEqual(["Hi", "THERE"]);
  });

  it("maps unknown tokens to 1, pads with 0 at the end and truncates to outputSequenceLength", () => {
    const v = new TextVectorizer({ outputSequenceLength: 4 });
    v.adapt(["the cat sat", "the dog"]);
    expect(v.vocabulary()).toEqual(["", "[UNK]", "the", "cat", "sat", "dog"]);
    expect(v.vectorize("The bird sat")).toEqual(new Int32Array([2, 1, 4, 0]));
    expect(v.vectorize("the cat sat the dog the")).toEqual(new Int32Array([2, 3, 4, 2]));
    expect(v.vectorize("")).toEqual(new Int32Array([0, 0, 0, 0]));
  });

  it("returns the text's own length without outputSequenceLength", () => {
    const v = new TextVectorizer();
    v.adapt(["a b"]);
    expect(v.vectorize("a b a q")).toEqual(new Int32Array([2, 3, 2, 1]));
  });

  it("does not give a literal [UNK] in the data its own entry", () => {
    const v = new TextVectorizer({ standardize: "none" });
    v.adapt(["[UNK] [UNK] x"]);
    expect(v.vocabulary()).toEqual(["", "[UNK]", "x"]);
  });

  it("round-trips through JSON", () => {
    const v = new TextVectorizer({ maxTokens: 50, outputSequenceLength: 6, standardize: "lower" });
    v.adapt(["One two three", "two three", "three"]);
    const back = TextVectorizer.fromJSON(JSON.parse(JSON.stringify(v)));
    expect(back.vocabulary()).toEqual(v.vocabulary());
    expect(back.outputSequenceLength).toBe(6);
    expect(back.maxTokens).toBe(50);
    expect(back.vectorize("three one zero")).toEqual(v.vectorize("three one zero"));
  });

  it("says what to do when used before adapt or given bad settings", () => {
    expect(() => new TextVectorizer().vectorize("x")).toThrow(/call adapt/);
    expect(() => new TextVectorizer({ maxTokens: 2 })).toThrow(/maxTokens must be an integer ≥ 3/);
    expect(() => new TextVectorizer({ outputSequenceLength: 0 })).toThrow(/outputSequenceLength/);
    expect(() =>
      TextVectorizer.fromJSON({
        maxTokens: null,
        outputSequenceLength: null,
        standardize: "none",
        split: "whitespace",
        vocabulary: ["a"],
      }),
    ).toThrow(/vocabulary must be/);
  });
});
