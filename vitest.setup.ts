/**
 * Runs before every test file. Tests here are mostly synchronous work behind promises that resolve
 * at once, so without a turn of the event loop between tests a vitest worker never processes the
 * replies to its own RPC calls, and a file that runs past 60 s on a loaded machine fails with
 * `Timeout calling "onTaskUpdate"`. One setImmediate after each test lets the loop turn.
 */
import { afterEach } from "vitest";

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
