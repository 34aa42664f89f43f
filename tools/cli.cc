// data-bridge-kv-cli: run one command, or read commands from an interactive prompt (or from
// stdin when it is not a terminal), printing replies the way redis-cli does.
//
// Flags are parsed with CLI11, like the server's (server/options.cc), with redis-cli's names:
// -h is the host, so help is --help only. They apply in the order given (a URL's parts and
// the flags around it override each other left to right), and the first word that is not a
// flag (or the word after "--") starts the command: every word from there on is one of its
// arguments, even "-5" or "-h".
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "client/options.h"
#include "core/version.h"
#include "tools/cli_blocking.h"
#include "tools/cli_format.h"

namespace {

constexpr char kProgram[] = "data-bridge-kv-cli";

// The start of --help; CLI11 lists COMMAND and the flags after it.
constexpr char kUsage[] =
    "usage: data-bridge-kv-cli [-h HOST] [-p PORT] [-a PASSWORD] [-n NAMESPACE] [-u URL]\n"
    "                          [--tls] [--cacert FILE] [--cert FILE --key FILE] [--sni NAME]\n"
    "                          [-s] [-t TIMEOUT_S] [--] [COMMAND ARG...]\n"
    "\n"
    "Runs COMMAND and prints its reply; without one, reads commands from a prompt (or from\n"
    "stdin, one per line). Arguments are typed: 42 is an integer, 1.10 a decimal, anything\n"
    "else a string; -s sends every argument as a string. Quote words at the prompt to keep\n"
    "them strings. The password may also come from the environment as KV_PASSWORD.\n"
    "\n"
    "Flags apply in order: one given after -u overrides what the URL set, and the other way\n"
    "round. COMMAND starts at the first word that is not a flag (or after --); every word\n"
    "from there on is one of its arguments, even one that starts with '-'.\n";

// --help: kUsage in place of CLI11's description and usage line.
class UsageFormatter : public CLI::Formatter {
 public:
  std::string make_description(const CLI::App* /*app*/) const override { return ""; }
  std::string make_usage(const CLI::App* /*app*/, std::string /*name*/) const override {
    return kUsage;
  }
};

// What the command line asks for.
struct CliArgs {
  dbkv::client::ClientOptions opts;
  bool strings_only = false;
  std::vector<std::string> command;  // COMMAND ARG...; empty: read commands from stdin
};

int Fail(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", kProgram, msg.c_str());
  return 2;
}

// A port: a decimal number from 1 to 65535.
bool ParsePort(const std::string& text, uint16_t* port) {
  char* end = nullptr;
  errno = 0;
  const long p = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || p <= 0 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

// A number of seconds, as strtod reads it (the whole text).
bool ParseSeconds(const std::string& text, double* seconds) {
  char* end = nullptr;
  const double s = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return false;
  *seconds = s;
  return true;
}

// Parses the command line into *args. False when the program is done (--help, --version, or a
// bad flag, reported on stderr): *exit_code is what it exits with (0, or 2 for a bad flag).
bool ParseArgs(int argc, char** argv, CliArgs* args, int* exit_code) {
  dbkv::client::ClientOptions& o = args->opts;
  o.timeout_s = 30;
  // First, so that -a and -u override it.
  if (const char* pw = std::getenv("KV_PASSWORD"); pw != nullptr) o.password = pw;

  CLI::App app{"", kProgram};
  app.formatter(std::make_shared<UsageFormatter>());
  app.get_formatter()->column_width(20);
  // -h is the host (as in redis-cli); --help is added last, to be listed last.
  app.set_help_flag();
  // The first word that is not a flag starts COMMAND; all the words after it are its own.
  app.positionals_at_end();

  // Every flag takes effect when it is read (trigger_on_parse), so that flags and -u override
  // each other in the order given, as they always have.
  auto value = [&app](const std::string& name, const std::string& type, const std::string& help,
                      const std::function<void(const std::string&)>& set) {
    return app.add_option_function<std::string>(name, set, help)
        ->type_name(type)
        ->trigger_on_parse();
  };
  auto flag = [&app](const std::string& name, const std::string& help, std::function<void()> set) {
    return app
        .add_flag_function(
            name, [set = std::move(set)](int64_t /*count*/) { set(); }, help)
        ->trigger_on_parse()
        // --tls=yes is refused (CLI11 2.1 would throw std::invalid_argument on a value that is not
        // a number or a boolean word).
        ->disable_flag_override();
  };
  value("-h", "HOST", "server host (default 127.0.0.1)",
        [&o](const std::string& v) { o.host = v; });
  value("-p", "PORT", "server port (default 7379)", [&o](const std::string& v) {
    if (!ParsePort(v, &o.port)) throw CLI::ValidationError("-p", "bad port '" + v + "'");
  });
  value("-a", "PASSWORD", "authenticate with this password (default: $KV_PASSWORD)",
        [&o](const std::string& v) { o.password = v; });
  value("-n", "NAMESPACE", "use this namespace (default: the default namespace)",
        [&o](const std::string& v) { o.ns = v; });
  value("-u", "URL", "host:port[/ns] or databridge://[:password@]host:port[/ns]",
        [&o](const std::string& v) {
          const dbkv::Status s = dbkv::client::ParseUrl(v, &o);
          if (!s.ok()) throw CLI::ValidationError("-u", s.message());
        });
  flag("--tls", "connect with TLS (verified against the system's CAs)", [&o] { o.tls = true; });
  value("--cacert", "FILE", "verify the server with this CA bundle (implies --tls)",
        [&o](const std::string& v) {
          o.ca_file = v;
          o.tls = true;
        });
  value("--cert", "FILE", "client certificate (mutual TLS), with --key",
        [&o](const std::string& v) { o.cert_file = v; });
  value("--key", "FILE", "the private key of --cert",
        [&o](const std::string& v) { o.key_file = v; });
  value("--sni", "NAME", "the name the server's certificate must carry (default: HOST)",
        [&o](const std::string& v) { o.server_name = v; });
  flag("-s", "send every argument as a string", [args] { args->strings_only = true; });
  value("-t", "TIMEOUT_S",
        "seconds to wait for a reply (default 30; 0: no limit). Blocking\n"
        "commands (WAIT, MWAIT, WAITANY, WAITANYV, BLPOP, BRPOP, LOCK with a\n"
        "timeout) wait their own timeout on top, and with timeout 0 as long as\n"
        "the server does, as redis-cli",
        [&o](const std::string& v) {
          if (!ParseSeconds(v, &o.timeout_s)) {
            throw CLI::ValidationError("-t", "bad timeout '" + v + "' (seconds; 0: no limit)");
          }
        });
  app.add_option("COMMAND", args->command,
                 "the command to run and its arguments (none: read commands from stdin)")
      ->type_name("ARG");
  app.set_help_flag("--help", "this text");
  app.set_version_flag("--version", std::string(kProgram) + " " + dbkv::kVersion,
                       "print the version");

  try {
    app.parse(argc, argv);
    return true;
  } catch (const CLI::Success& e) {  // --help, --version
    *exit_code = app.exit(e);
  } catch (const CLI::ExtrasError&) {
    // Only flags can be left over: every word from COMMAND on is COMMAND's.
    std::string unknown;
    int count = 0;
    for (const std::string& word : app.remaining()) {
      if (word == "--") continue;
      unknown += (count++ == 0 ? "" : " ") + word;
    }
    *exit_code =
        Fail((count == 1 ? "unknown option " : "unknown options ") + unknown + " (see --help)");
  } catch (const CLI::ArgumentMismatch& e) {
    // A flag that takes a value ended the command line (or a flag was given one: --tls=yes).
    const CLI::Option* last = argc > 1 ? app.get_option_no_throw(argv[argc - 1]) : nullptr;
    *exit_code = last != nullptr && last->get_type_size() > 0
                     ? Fail(std::string(argv[argc - 1]) + " needs a value")
                     : Fail(std::string(e.what()) + " (see --help)");
  } catch (const CLI::ParseError& e) {
    *exit_code = Fail(std::string(e.what()) + " (see --help)");
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using dbkv::Value;
  CliArgs cli;
  try {
    if (int code = 0; !ParseArgs(argc, argv, &cli, &code)) return code;
  } catch (const CLI::Error& e) {  // a mistake in the definitions of the flags
    return Fail(e.what());
  }
  const dbkv::client::ClientOptions& opts = cli.opts;
  const bool strings_only = cli.strings_only;

  const std::string where = opts.host + ":" + std::to_string(opts.port);
  dbkv::client::Client client(opts);

  auto run = [&](const std::vector<dbkv::cli::Word>& words) -> bool {
    dbkv::ValueList args;
    std::vector<std::string> texts;
    for (size_t k = 1; k < words.size(); ++k) {
      args.push_back(words[k].quoted ? Value::String(words[k].text)
                                     : dbkv::cli::TypeArgument(words[k].text, strings_only));
      texts.push_back(words[k].text);
    }
    // A blocking command waits as long as it says (BLPOP q 0: until a push), not -t.
    const double timeout_s = dbkv::cli::ReplyTimeout(words[0].text, texts, opts.timeout_s);
    dbkv::Reply r = client.Call(words[0].text, std::move(args), timeout_s);
    if (r.code == dbkv::Code::kIoError && r.error.rfind("cannot connect", 0) == 0) {
      std::fprintf(stderr, "Could not connect to data-bridge-kv at %s: %s\n", where.c_str(),
                   r.error.c_str());
    } else {
      std::fputs(dbkv::cli::FormatReply(r).c_str(), stdout);
      std::fflush(stdout);
    }
    return r.ok();
  };

  if (!cli.command.empty()) {
    std::vector<dbkv::cli::Word> words;
    for (std::string& text : cli.command) words.push_back({std::move(text), false});
    return run(words) ? 0 : 1;
  }

  const bool tty = isatty(STDIN_FILENO) != 0;
  const std::string prompt = where + (opts.ns.empty() ? "" : "/" + opts.ns) + "> ";
  bool all_ok = true;
  std::string line;
  for (;;) {
    if (tty) {
      std::fputs(prompt.c_str(), stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    std::vector<dbkv::cli::Word> words;
    if (!dbkv::cli::SplitLine(line, &words)) {
      std::fputs("Invalid argument(s): unbalanced quotes\n", stdout);
      all_ok = false;
      continue;
    }
    if (words.empty()) continue;
    if (tty && (words[0].text == "quit" || words[0].text == "exit")) break;
    all_ok = run(words) && all_ok;
  }
  if (tty) std::fputs("\n", stdout);
  return all_ok ? 0 : 1;
}
