// Bad input through the CLI: each malformed model (tools/reference/make_testdata.py writes them) and
// each bad argument gives exit code != 0 and exactly one line on stderr, "dlvk: error: ...", naming
// the problem — never a crash, hang or silent output. Also: the CLI tools run (bench, devices).
#include <algorithm>
#include <cctype>
#include <sstream>

#include "model/model_util.hpp"
#include "support/test_device.hpp"

using namespace dlvk;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

void expect_one_line_error(const test::CommandResult& r, const std::vector<std::string>& any_of) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code < 124);  // not a timeout (124) or a signal (128+)
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.rfind("dlvk: error: ", 0) == 0);
  bool found = any_of.empty();
  for (const auto& s : any_of) found = found || lower(r.err).find(lower(s)) != std::string::npos;
  CHECK(found);
}

}  // namespace

TEST_CASE("cli: every malformed checkpoint is a one-line error naming the problem") {
  auto m = test::manifest();
  REQUIRE(m["bad"].size() >= 20);
  for (const auto& b : m["bad"]) {
    std::string name = b["name"];
    std::vector<std::string> hints = b["error_contains_any"];
    auto dir = test::test_data() / "bad" / name;
    auto r = test::run_command(test::dlvk_bin() + " score --model " + dir.string() + " --ids 1,2,3");
    INFO("case " << name);
    expect_one_line_error(r, hints);
  }
}

TEST_CASE("cli: bad arguments") {
  std::string good = (test::test_data() / "mha").string();
  std::string score = test::dlvk_bin() + " score --model ";
  expect_one_line_error(test::run_command(score + "/nonexistent/dir --ids 1,2"), {"/nonexistent/dir"});
  expect_one_line_error(test::run_command(score + good + " --ids 1,x,3"), {"'x'"});
  expect_one_line_error(test::run_command(score + good + " --ids 1,,3"), {"token id"});
  expect_one_line_error(test::run_command(score + good + " --ids ''"), {"empty"});
  expect_one_line_error(test::run_command(score + good + " --ids 1,128"), {"out of range"});
  expect_one_line_error(test::run_command(score + good + " --ids -5"), {"out of range", "token id"});
  expect_one_line_error(test::run_command(score + good + " --ids 99999999999"), {"out of range"});
  expect_one_line_error(test::run_command(score + good + " --ids 1,2,3,4,5 --ctx 4"), {"context"});
  expect_one_line_error(test::run_command(score + good + " --ids 1,2 --device 99"), {"device index"});
  expect_one_line_error(test::run_command("env DLVK_CPU_MATVEC=fast " + score + good + " --ids 1,2"), {"DLVK_CPU_MATVEC"});
  expect_one_line_error(test::run_command("env DLVK_COOPMAT=yes " + score + good + " --ids 1,2"), {"DLVK_COOPMAT"});
  expect_one_line_error(test::run_command("env DLVK_GPU_MATVEC=vec4 " + score + good + " --ids 1,2"), {"DLVK_GPU_MATVEC"});
}

TEST_CASE("cli: DLVK_COOPMAT chooses the prefill matmul of GPUs; bench says which ran") {
  for (const char* value : {"0", "1", "emulate"}) {
    auto r = test::run_command(std::string("env DLVK_COOPMAT=") + value + " " + test::dlvk_bin() + " devices --json");
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    for (const auto& d : nlohmann::json::parse(r.out)["devices"])
      CHECK(d["capabilities"]["coopmat_use"] == (value[0] == '0' ? "off" : value[0] == '1' ? "on" : "emulate"));
  }
  // The GPU kernel plan (mobile-like turns the CPU quirks off): emulated where the device has no
  // cooperative matrices, tiled without DLVK_COOPMAT; CPU devices' own plan never uses them.
  const std::string bench = " " + test::dlvk_bin() + " bench --synthetic tiny -p 8 -n 0 -r 1 --json";
  // Whether the device a run picks has cooperative matrices (this process's may be clamped by its profile).
  auto devices = test::run_command("env DLVK_PROFILE=mobile-like " + test::dlvk_bin() + " devices --json");
  REQUIRE(devices.exit_code == 0);
  const auto dj = nlohmann::json::parse(devices.out);
  const auto& picked = dj["devices"].at(dj["selected"].get<size_t>());
  const bool coop = picked["capabilities"]["cooperative_matrix"] != "";
  const bool cpu = picked["cpu"].get<bool>();
  struct Case {
    const char* env;
    std::string expect;
  };
  for (const Case& c : {Case{"DLVK_COOPMAT=emulate DLVK_PROFILE=mobile-like", coop ? "coopmat" : "coopmat (emulated)"},
                        Case{"DLVK_PROFILE=mobile-like", "tiled"},
                        Case{"DLVK_COOPMAT=emulate DLVK_PROFILE=native", cpu ? "rows" : "coopmat"}}) {
    auto r = test::run_command(std::string("env ") + c.env + bench);
    INFO(c.env << " stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["prefill_matmul"] == c.expect);
  }
}

TEST_CASE("cli: DLVK_GPU_MATVEC chooses the decode matmul of GPUs; bench says which ran") {
  for (const char* value : {"wide", "words"}) {
    auto r = test::run_command(std::string("env DLVK_GPU_MATVEC=") + value + " " + test::dlvk_bin() + " devices --json");
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    for (const auto& d : nlohmann::json::parse(r.out)["devices"]) CHECK(d["capabilities"]["gpu_matvec"] == value);
  }
  const std::string bench = " " + test::dlvk_bin() + " bench --synthetic tiny -p 0 -n 2 -r 1 --json";
  auto devices = test::run_command(test::dlvk_bin() + " devices --json");
  REQUIRE(devices.exit_code == 0);
  const auto dj = nlohmann::json::parse(devices.out);
  const bool cpu = dj["devices"].at(dj["selected"].get<size_t>())["cpu"].get<bool>();
  struct Case {
    const char* env;
    std::vector<std::string> expect;
  };
  for (const Case& c : {Case{"DLVK_PROFILE=mobile-like", {"matvec_wide"}},  // tiny: K = hidden 128, intermediate 256
                        Case{"DLVK_GPU_MATVEC=words DLVK_PROFILE=mobile-like", {"matvec"}},
                        Case{"DLVK_PROFILE=native", cpu ? std::vector<std::string>{"rows", "subgroup_k"}
                                                        : std::vector<std::string>{"matvec_wide"}}}) {
    auto r = test::run_command(std::string("env ") + c.env + bench);
    INFO(c.env << " stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    const std::string got = nlohmann::json::parse(r.out)["decode_matmul"];
    CHECK(std::find(c.expect.begin(), c.expect.end(), got) != c.expect.end());
  }
}

TEST_CASE("cli: DLVK_CPU_MATVEC overrides the decode matmul choice of CPU devices") {
  // `dlvk devices --json` shows each device's capabilities as the kernels see them.
  for (const char* value : {"split_k", "rows", "by_residency"}) {
    auto r = test::run_command(std::string("env DLVK_CPU_MATVEC=") + value + " " + test::dlvk_bin() + " devices --json");
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    for (const auto& d : j["devices"]) {
      const auto& c = d["capabilities"];
      INFO("device " << d["name"]);
      CHECK(c["cpu_matvec"] == value);
      if (c["cpu_quirks"].get<bool>()) CHECK(c["host_cpu_vendor"] != "");
    }
  }
}

TEST_CASE("cli: dlvk bench and bench ops run and print llama-bench's fields (speed itself is no test)") {
  const std::string bench = test::dlvk_bin() + " bench --synthetic tiny -p 8 -n 4 -r 2 -d 4 --json --peak-gbps 1000";
  for (const char* quant : {"", " --quant q8_0"}) {
    auto r = test::run_command(bench + quant);
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    std::istringstream lines(r.out);
    std::string line;
    int tests = 0;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line);
      INFO(line);
      const bool pp = j["n_prompt"] == 8;
      CHECK((pp ? j["n_gen"] == 0 : j["n_prompt"] == 0 && j["n_gen"] == 4));
      CHECK(j["n_depth"] == 4);
      CHECK(j["avg_ts"].get<double>() > 0);
      CHECK(j["stddev_ts"].get<double>() >= 0);
      CHECK(j["samples_ts"].size() == 2);
      CHECK(!j["device"].get<std::string>().empty());
      CHECK(j["decode_dispatches"].get<int>() > 0);
      if (pp) CHECK(j["prefill_dispatches"].get<int>() > 0);
      if (!pp) {  // generation reports the bandwidth of the weights it reads: bytes x tokens/s
        const double bytes = j["decode_weight_bytes"].get<double>();
        CHECK(bytes > 0);
        CHECK(j["weights_gbps"].get<double>() == doctest::Approx(bytes * j["avg_ts"].get<double>() / 1e9));
        CHECK(j["peak_bandwidth_fraction"].get<double>() == doctest::Approx(j["weights_gbps"].get<double>() / 1000));
      }
      ++tests;
    }
    CHECK(tests == 2);  // pp8 and tg4
  }
  auto profile = test::run_command(test::dlvk_bin() + " bench --synthetic tiny -p 8 -n 4 -r 1 --profile");
  REQUIRE(profile.exit_code == 0);
  CHECK(profile.out.find(" GB/s") != std::string::npos);
  CHECK(test::run_command(test::dlvk_bin() + " bench --synthetic tiny -p 8 -n 4 --peak-gbps -5").exit_code != 0);
  if (test::device().caps().timestamps) {  // (the CLI picks the same best device)
    CHECK(profile.out.find("GPU time per op") != std::string::npos);
    CHECK(profile.out.find("gate_up_proj") != std::string::npos);
  }
  auto ops = test::run_command(test::dlvk_bin() + " bench ops --filter rmsnorm -r 1 --json");
  REQUIRE(ops.exit_code == 0);
  auto first = nlohmann::json::parse(ops.out.substr(0, ops.out.find('\n')));
  CHECK(first["op"] == "rmsnorm");
  CHECK(first["gpu_ms"].get<double>() > 0);
}
