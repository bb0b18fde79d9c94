#include <cstdio>
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
  try {
    app.parse(argc, argv);
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
