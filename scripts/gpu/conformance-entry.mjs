// Entry of the conformance bundle that travels to a GPU machine (scripts/gpu/prepare.sh): importing
// backend-native first registers 'native' and, where a GPU is usable, 'cuda'; then the conformance
// CLI runs (its isEntryPoint() sees this bundle as process.argv[1]).
import "@tessera/backend-native";
import "../../packages/conformance/src/cli.ts";
