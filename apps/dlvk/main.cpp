#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dlvk/error.hpp"

namespace dlvk::cli {

static std::vector<CommandSetup>& registry() {
  static std::vector<CommandSetup> setups;
  return setups;
}

RegisterCommand::RegisterCommand(CommandSetup setup) { registry().push_back(setup); }

int& exit_code() {
  static int code = 0;
  return code;
}

}  // namespace dlvk::cli

int main(int argc, char** argv) {
  CLI::App app{"dlvk: DiffLlama language models on Vulkan compute"};
  app.require_subcommand(1);
  for (auto setup : dlvk::cli::registry()) setup(app);
  // `dlvk bench ops` is the spelling the docs use for `dlvk bench-ops`.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "bench" && args[1] == "ops") {
    args.erase(args.begin());
    args[0] = "bench-ops";
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dlvk::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "dlvk: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "dlvk: error: %s\n", e.what());
    return 1;
  }
  return dlvk::cli::exit_code();
}
