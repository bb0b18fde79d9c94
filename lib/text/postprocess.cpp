// Post-processors (single sequence): TemplateProcessing, ByteLevel (ids unchanged: it only trims
// offsets), Sequence, BertProcessing, RobertaProcessing. Anything else: Status::unsupported.
#include "text/text_internal.hpp"

namespace dlvk::text {

namespace {

class TemplateProcessor : public PostProcessor {
 public:
  TemplateProcessor(const json& j, const BuildContext& ctx) {
    const json& single = ctx.need(j, "single", "TemplateProcessing");
    const json& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
    if (!single.is_array()) ctx.bad("TemplateProcessing: \"single\" is not an array");
    bool seen_a = false;
    for (const auto& item : single) {
      if (item.is_object() && item.contains("SpecialToken")) {
        std::string name = ctx.get_string(item["SpecialToken"], "id", "TemplateProcessing special token");
        auto it = specials.find(name);
        if (it == specials.end()) ctx.bad(fmt::format("TemplateProcessing: special token \"{}\" is not in special_tokens", name));
        const json& ids = ctx.need(*it, "ids", "TemplateProcessing special token \"" + name + "\"");
        if (!ids.is_array()) ctx.bad(fmt::format("TemplateProcessing: ids of \"{}\" is not an array", name));
        Item part;
        for (const auto& id : ids) part.ids.push_back(id.get<int32_t>());
        (seen_a ? after_ : before_).insert((seen_a ? after_ : before_).end(), part.ids.begin(), part.ids.end());
        items_.push_back(std::move(part));
      } else if (item.is_object() && item.contains("Sequence")) {
        std::string id = ctx.get_string(item["Sequence"], "id", "TemplateProcessing sequence");
        if (id != "A") ctx.bad(fmt::format("TemplateProcessing: the single template uses sequence \"{}\"", id));
        items_.push_back(Item{{}, true});
        seen_a = true;
      } else {
        ctx.bad(fmt::format("TemplateProcessing: unknown template item {}", item.dump()));
      }
    }
    if (!seen_a) ctx.bad("TemplateProcessing: the single template has no $A");
  }
  void process(std::vector<int32_t>& ids, bool add_special) const override {
    if (!add_special) return;
    std::vector<int32_t> out;
    out.reserve(ids.size() + before_.size() + after_.size());
    for (const auto& item : items_) {
      if (item.sequence) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), item.ids.begin(), item.ids.end());
    }
    ids = std::move(out);
  }
  size_t added_count(bool add_special) const override { return add_special ? before_.size() + after_.size() : 0; }
  std::optional<int32_t> leading_special() const override {
    return before_.empty() ? std::nullopt : std::optional<int32_t>(before_.front());
  }
  std::optional<int32_t> trailing_special() const override {
    return after_.empty() ? std::nullopt : std::optional<int32_t>(after_.back());
  }

 private:
  struct Item {
    std::vector<int32_t> ids;
    bool sequence = false;
  };
  std::vector<Item> items_;
  std::vector<int32_t> before_, after_;
};

class NoopProcessor : public PostProcessor {
 public:
  void process(std::vector<int32_t>&, bool) const override {}
  size_t added_count(bool) const override { return 0; }
};

// BertProcessing / RobertaProcessing: [cls] $A [sep].
class ClsSepProcessor : public PostProcessor {
 public:
  ClsSepProcessor(const json& j, const BuildContext& ctx, std::string_view name) {
    auto read = [&](const char* key) {
      const json& v = ctx.need(j, key, name);
      if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer()) ctx.bad(fmt::format("{}: bad \"{}\"", name, key));
      return v[1].get<int32_t>();
    };
    cls_ = read("cls");
    sep_ = read("sep");
  }
  void process(std::vector<int32_t>& ids, bool add_special) const override {
    if (!add_special) return;
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
  }
  size_t added_count(bool add_special) const override { return add_special ? 2 : 0; }
  std::optional<int32_t> leading_special() const override { return cls_; }
  std::optional<int32_t> trailing_special() const override { return sep_; }

 private:
  int32_t cls_, sep_;
};

class SequenceProcessor : public PostProcessor {
 public:
  std::vector<std::unique_ptr<PostProcessor>> items;
  void process(std::vector<int32_t>& ids, bool add_special) const override {
    for (const auto& p : items) p->process(ids, add_special);
  }
  size_t added_count(bool add_special) const override {
    size_t n = 0;
    for (const auto& p : items) n += p->added_count(add_special);
    return n;
  }
  std::optional<int32_t> leading_special() const override {
    for (const auto& p : items)
      if (auto id = p->leading_special()) return id;
    return std::nullopt;
  }
  std::optional<int32_t> trailing_special() const override {
    for (const auto& p : items)
      if (auto id = p->trailing_special()) return id;
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const BuildContext& ctx) {
  if (j.is_null()) return nullptr;
  std::string type = component_type(j);
  try {
    if (type == "TemplateProcessing") return std::make_unique<TemplateProcessor>(j, ctx);
    if (type == "ByteLevel") return std::make_unique<NoopProcessor>();
    if (type == "BertProcessing") return std::make_unique<ClsSepProcessor>(j, ctx, "BertProcessing");
    if (type == "RobertaProcessing") return std::make_unique<ClsSepProcessor>(j, ctx, "RobertaProcessing");
    if (type == "Sequence") {
      return make_sequence<SequenceProcessor>(j, "processors", "Sequence post-processor", ctx, make_post_processor);
    }
  } catch (const nlohmann::json::exception& e) {
    ctx.bad(fmt::format("post-processor {}: {}", type, e.what()));
  }
  ctx.unsupported("post-processor", j);
}

}  // namespace dlvk::text
