import { fileURLToPath } from "node:url";

/**
 * The PyTorch golden op cases shipped with this package. Resolved from this module's location, which is
 * one level below the package root both as source (src/) and as the bundle (dist/).
 */
export const TORCH_FIXTURES_DIR = fileURLToPath(new URL("../fixtures/torch/", import.meta.url));
