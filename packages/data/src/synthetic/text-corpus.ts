/**
 * A generated, labelled sentence corpus for the text-classification workflow: four topics written from
 * templates with random slot fillers. Words like "hot", "record", "cloud", "batter", "chips", "server"
 * and "season" appear in more than one topic, every topic shares the same openers ("reports say",
 * "this week"), and a quarter of the sentences come from topic-neutral templates where one subject
 * phrase carries the label (some subjects belong to two topics, so a few sentences are ambiguous).
 * The topic still follows from the words together for most sentences: a small transformer learns it
 * in a few epochs. Measured at the defaults (seeds 0 and 1, first 640 lines to train, last 160 to
 * test): a naive Bayes bag of words scores 85–87%; the ambiguous sentences (about 9%, half to two
 * thirds of them unresolvable) cap any model near 95%.
 *
 * Format: UTF-8 TSV, one `label<TAB>sentence` per line, a `#` comment line on top, classes shuffled
 * together — what `TextClassificationDataset.load(path)` reads.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { DataError } from "../errors.js";
import { Rng } from "../rng.js";

/**
 * The topics of the generated corpus, in label order.
 *
 * @example
 * ```ts
 * TEXT_CORPUS_CLASSES.indexOf("weather"); // 1
 * ```
 */
export const TEXT_CORPUS_CLASSES = ["sports", "weather", "technology", "food"] as const;

/** Options of `generateTextCorpus`. */
export interface TextCorpusOptions {
  /** Sentences per class. Default 200. */
  perClass?: number;
  /** Seed of everything random. Default 0. */
  seed?: number;
}

/** Slot fillers; a `{name}` in a template draws one of these. Several lists overlap across topics on purpose. */
const SLOTS: Record<string, readonly string[]> = {
  team: [
    "the tigers",
    "city united",
    "the rovers",
    "the heat",
    "the falcons",
    "river plate",
    "the giants",
    "the comets",
  ],
  player: [
    "garcia",
    "the captain",
    "the young striker",
    "okafor",
    "the veteran keeper",
    "lindqvist",
    "the rookie",
  ],
  result: ["won", "lost", "drew", "fought back", "held on"],
  score: ["two to one", "three nil", "one all", "four to three", "by ten points", "in extra time"],
  event: ["final", "derby", "semi final", "cup tie", "home opener", "league match", "festival"],
  sportword: ["goals", "assists", "home runs", "points", "saves", "tackles"],
  place: ["the coast", "the valley", "the capital", "the north", "the mountains", "the city", "the islands"],
  sky: ["rain", "snow", "sunshine", "thunderstorms", "fog", "hail", "drizzle", "strong winds"],
  temp: ["minus five", "twelve", "twenty", "thirty one", "eight", "thirty five"],
  feel: ["hot", "cool", "mild", "humid", "freezing", "dry", "warm"],
  company: [
    "the startup",
    "a chip maker",
    "the phone maker",
    "an open source group",
    "the software giant",
    "apple",
  ],
  device: ["laptop", "phone", "tablet", "smart watch", "graphics card", "router", "headset"],
  part: ["processor", "battery", "screen", "memory", "camera", "server", "chips"],
  software: ["browser", "compiler", "database", "operating system", "app", "cloud service", "stream player"],
  bug: ["login", "memory leak", "crash", "security", "battery drain", "sync"],
  dish: ["soup", "pasta", "curry", "apple pie", "salad", "stew", "pancakes", "tacos", "risotto"],
  ingredient: ["garlic", "fresh basil", "lemon", "chili", "butter", "ginger", "cheese", "tomatoes", "chips"],
  cook: ["bake", "simmer", "roast", "grill", "fry", "stir"],
  minutes: ["ten", "twenty", "forty", "five", "thirty"],
  time: ["today", "tonight", "this weekend", "on monday", "this week", "tomorrow", "last night", "again"],
  adj: ["great", "new", "big", "fast", "strong", "record", "surprising", "hot", "solid", "cool"],
  opener: [
    "reports say",
    "honestly",
    "this week",
    "apparently",
    "i think",
    "locals say",
    "everyone agrees",
    "breaking",
  ],
};

/** Templates per class, in `TEXT_CORPUS_CLASSES` order. */
const TEMPLATES: readonly (readonly string[])[] = [
  [
    "{team} {result} {score} against {team} {time}",
    "{player} scored three {sportword} in the {event}",
    "fans cheered as {team} reached the {event}",
    "the coach said the defence looked {adj} in the {event}",
    "{player} set a {adj} record for {sportword} this season",
    "the batter hit a {adj} home run in the ninth inning",
    "{team} need a win {time} to stay in the race",
    "it was crunch time for {team} at the {event}",
    "a {adj} pitch and a full stadium for the {event}",
  ],
  [
    "expect {sky} and {temp} degrees {time}",
    "a {adj} storm will bring {sky} to {place} {time}",
    "forecasters warn of {feel} winds across {place}",
    "a record high of {temp} degrees in {place} {time}",
    "clear skies over {place} after the morning {sky}",
    "cloud cover keeps {place} {feel} {time}",
    "the heat wave in {place} lasts through the season",
    "{feel} air and {sky} move into {place} {time}",
    "the pressure drops and {sky} is likely {time}",
  ],
  [
    "the new {device} ships with a faster {part}",
    "{company} released an update that fixes the {bug} bug",
    "developers praised the {adj} {software} at the launch",
    "the {device} stays {feel} even under heavy load",
    "{company} unveiled {adj} chips for machine learning",
    "the {software} now syncs your data to the cloud",
    "a {bug} flaw in the {software} was patched {time}",
    "{company} moved its server farm to {place}",
    "benchmarks show the {part} is {adj} for games",
  ],
  [
    "this {dish} tastes best with {ingredient} and {ingredient}",
    "{cook} the {dish} for {minutes} minutes until golden",
    "the chef served a {feel} {dish} with {ingredient}",
    "our server recommended the {dish} {time}",
    "whisk the batter with {ingredient} before you {cook} it",
    "a {adj} crowd lined up for {dish} at the food {event}",
    "add {ingredient} to the {dish} and let it {cook}",
    "the {dish} had a {adj} crunch and plenty of {ingredient}",
    "season the {dish} with salt and {ingredient}",
  ],
];

/**
 * What each class talks about in the topic-neutral templates below. Some subjects belong to two or
 * three topics ("the heat", "the season", "the cloud", "the chips", "the pitch"): a sentence built
 * from a neutral template around one of those is genuinely ambiguous, so even a perfect model stays
 * a little below 100%.
 */
const SUBJECTS: readonly (readonly string[])[] = [
  [
    "the match",
    "the league",
    "the playoffs",
    "the transfer",
    "the heat",
    "the season",
    "the stadium",
    "the pitch",
  ],
  [
    "the forecast",
    "the storm",
    "the heat",
    "the cloud",
    "the season",
    "the rainfall",
    "the frost",
    "the humidity",
  ],
  [
    "the update",
    "the cloud",
    "the chips",
    "the launch",
    "the keynote",
    "the network",
    "the pitch",
    "the gadget",
  ],
  [
    "the menu",
    "the chips",
    "the recipe",
    "the harvest",
    "the dinner",
    "the season",
    "the heat",
    "the dessert",
  ],
];

/** Templates shared by every topic; only the `{subject}` (from `SUBJECTS`) carries the label. */
const NEUTRAL_TEMPLATES: readonly string[] = [
  "everyone is talking about {subject} {time}",
  "what a {adj} week for {subject}",
  "news about {subject} keeps coming {time}",
  "{subject} was all anyone wanted to discuss {time}",
  "nobody expected {subject} to be this {adj}",
  "people lined up early for {subject} {time}",
];

/** Share of sentences written from a neutral template. */
const NEUTRAL_SHARE = 0.25;

/**
 * Writes a TSV corpus of `perClass` sentences for each of `TEXT_CORPUS_CLASSES` to `path` (atomically)
 * and returns how many files and sentences it wrote.
 *
 * @example
 * ```ts
 * import { generateTextCorpus, TextClassificationDataset } from "@tessera/data";
 * await generateTextCorpus("/tmp/corpus.tsv", { perClass: 100, seed: 0 });
 * const ds = await TextClassificationDataset.load("/tmp/corpus.tsv"); // 400 sentences, 4 classes
 * ```
 */
export async function generateTextCorpus(
  path: string,
  opts: TextCorpusOptions = {},
): Promise<{ files: number; sentences: number }> {
  const perClass = opts.perClass ?? 200;
  if (!(Number.isInteger(perClass) && perClass >= 1)) {
    throw new RangeError(`generateTextCorpus: perClass must be an integer ≥ 1, got ${perClass}`);
  }
  const seed = opts.seed ?? 0;
  const lines = textCorpusLines(perClass, seed);
  const header = `# tessera generated text corpus: ${TEXT_CORPUS_CLASSES.join(", ")}; ${perClass} per class; seed ${seed}\n`;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  try {
    await writeFile(tmp, header + lines.join("\n") + "\n");
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new DataError(`cannot write the corpus (${(e as Error).message})`, path, { cause: e });
  }
  return { files: 1, sentences: lines.length };
}

/** The corpus lines (`label\tsentence`), classes interleaved in a seeded random order. */
function textCorpusLines(perClass: number, seed: number): string[] {
  const rng = new Rng(seed);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (let c = 0; c < TEXT_CORPUS_CLASSES.length; c++) {
    const templates = TEMPLATES[c] as readonly string[];
    for (let i = 0; i < perClass; i++) {
      // Retry a few times for a sentence not seen yet, so train/test splits rarely share a sentence;
      // small template spaces may still repeat (the corpus never stalls on it).
      let sentence = "";
      for (let attempt = 0; attempt < 20; attempt++) {
        const neutral = rng.random() < NEUTRAL_SHARE;
        const template = neutral
          ? NEUTRAL_TEMPLATES[rng.int(NEUTRAL_TEMPLATES.length)]
          : templates[rng.int(templates.length)];
        sentence = sentenceFrom(template as string, SUBJECTS[c] as readonly string[], rng);
        if (!seen.has(sentence)) break;
      }
      seen.add(sentence);
      lines.push(`${TEXT_CORPUS_CLASSES[c]}\t${sentence}`);
    }
  }
  const order = rng.permutation(lines.length);
  return Array.from(order, (i) => lines[i] as string);
}

/** Fills a template's slots (`{subject}` from the class's subjects) and, now and then, adds a topic-neutral opener. */
function sentenceFrom(template: string, subjects: readonly string[], rng: Rng): string {
  const filled = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const options = name === "subject" ? subjects : (SLOTS[name] as readonly string[]);
    return options[rng.int(options.length)] as string;
  });
  if (rng.random() < 0.35) {
    const openers = SLOTS["opener"] as readonly string[];
    return `${openers[rng.int(openers.length)]} ${filled}`;
  }
  return filled;
}
