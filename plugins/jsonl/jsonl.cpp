// Dataset "jsonl": JSON Lines files, one document per line taken from one string field.
#include <lab/dataset_files.hpp>
#include <lab/error.hpp>
#include <lab/plugin.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace {

namespace fs = std::filesystem;

fs::path resolve(const std::string& path, const lab::DatasetContext& context) {
  if (path.empty()) throw lab::InputError("jsonl: key 'path' is required (a .jsonl file or a folder)");
  return lab::resolve_data_path(path, context);
}

// A file as given, or a folder's *.jsonl files sorted by relative path.
std::vector<lab::DataFile> list_files(const fs::path& root) {
  auto files =
      lab::list_data_files("jsonl", root, [](const fs::path& p) { return p.extension() == ".jsonl"; });
  if (files.empty()) throw lab::InputError("jsonl: no .jsonl files under " + root.string());
  return files;
}

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r\n") == std::string::npos; }

// nlohmann's messages start with "[json.exception.parse_error.101] ", and since each record is one line
// its "line 1" is noise next to the file's own line number.
std::string short_message(std::string what) {
  const auto bracket = what.find("] ");
  if (what.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) what = what.substr(bracket + 2);
  const std::string noise = "at line 1, column";
  const auto at = what.find(noise);
  if (at != std::string::npos) what.replace(at, noise.size(), "at column");
  return what;
}

void read_file(const lab::DataFile& file, const std::string& field, std::vector<lab::Document>* documents) {
  std::ifstream in(file.path, std::ios::binary);
  if (!in) throw lab::InputError("jsonl: cannot read " + file.path.string());
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (is_blank(line)) continue;
    const std::string where = file.path.string() + ":" + std::to_string(number) + ": ";
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse errors and out-of-range numbers
      throw lab::InputError(where + "invalid JSON: " + short_message(e.what()));
    }
    if (!record.is_object())
      throw lab::InputError(where + "expected a JSON object, got " + std::string(record.type_name()));
    const auto value = record.find(field);
    if (value == record.end()) throw lab::InputError(where + "no \"" + field + "\" field");
    if (!value->is_string())
      throw lab::InputError(where + "field \"" + field + "\" is " + std::string(value->type_name()) +
                            ", not a string");
    documents->push_back({file.id + ":" + std::to_string(number), value->get<std::string>()});
  }
  if (in.bad()) throw lab::InputError("jsonl: cannot read " + file.path.string());
}

class JsonlDataset : public lab::Dataset {
 public:
  JsonlDataset(const lab::Options& options, const lab::DatasetContext& context)
      : root_(resolve(options.get_string("path"), context)),
        field_(options.get_string("field")),
        files_(list_files(root_)) {
    if (field_.empty()) throw lab::InputError("jsonl: key 'field' must name a JSON field");
  }

  std::vector<lab::Document> documents() override {
    std::vector<lab::Document> documents;
    for (const auto& file : files_) read_file(file, field_, &documents);
    if (documents.empty()) throw lab::InputError("jsonl: no records in " + root_.string());
    return documents;
  }

  std::string describe() const override {
    return "jsonl " + fs::absolute(root_).lexically_normal().string() + " field=" + field_ +
           " files=" + std::to_string(files_.size()) +
           " bytes=" + std::to_string(lab::total_file_bytes(files_));
  }

 private:
  fs::path root_;
  std::string field_;
  std::vector<lab::DataFile> files_;
};

lab::DatasetPtr make(const lab::Options& options, const lab::DatasetContext& context) {
  return std::make_shared<JsonlDataset>(options, context);
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  if (options.get_string("path").empty()) problems.push_back({"path", "required: a .jsonl file or a folder"});
  if (options.get_string("field").empty()) problems.push_back({"field", "must name a JSON field"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor plugin = [] {
    lab::PluginDescriptor d;
    d.name = "jsonl";
    d.slot = lab::Slot::Dataset;
    d.description = "JSON Lines: one document per line, text taken from one string field";
    d.keys = {
        {"path", lab::Value::of(""),
         "a .jsonl file, or a folder of them read recursively (relative to the recipe)"},
        {"field", lab::Value::of("text"), "the string field holding each document's text"},
    };
    d.validate = validate;
    d.make_dataset = make;
    return d;
  }();
  return &plugin;
}

}  // namespace

LAB_PLUGIN(descriptor)
