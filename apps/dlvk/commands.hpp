// Subcommands of the dlvk CLI register themselves: each apps/dlvk/<name>.cpp defines
//   static dlvk::cli::RegisterCommand reg([](CLI::App& app) { auto* sub = app.add_subcommand(...); ... });
// and its callback throws dlvk::Error on failure (main prints one line and exits non-zero) or sets
// dlvk::cli::exit_code() for other non-zero exits.
#pragma once
#include <CLI/CLI.hpp>

namespace dlvk::cli {

using CommandSetup = void (*)(CLI::App& app);

struct RegisterCommand {
  explicit RegisterCommand(CommandSetup setup);
};

int& exit_code();

}  // namespace dlvk::cli
