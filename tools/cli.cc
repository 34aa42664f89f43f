// data-bridge-kv-cli: run one command, or read commands from an interactive prompt (or from
// stdin when it is not a terminal), printing replies the way redis-cli does.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "client/client.h"
#include "core/version.h"
#include "tools/cli_blocking.h"
#include "tools/cli_format.h"

namespace {

constexpr char kUsage[] =
    "usage: data-bridge-kv-cli [-h HOST] [-p PORT] [-a PASSWORD] [-n NAMESPACE] [-u URL]\n"
    "                          [--tls] [--cacert FILE] [--cert FILE --key FILE] [-s]\n"
    "                          [-t TIMEOUT_S] [COMMAND ARG...]\n"
    "\n"
    "Runs COMMAND and prints its reply; without one, reads commands from a prompt (or from\n"
    "stdin, one per line). Arguments are typed: 42 is an integer, 1.10 a decimal, anything\n"
    "else a string; -s sends every argument as a string. Quote words at the prompt to keep\n"
    "them strings. The password may also come from the environment as KV_PASSWORD.\n"
    "\n"
    "  -h HOST       server host (default 127.0.0.1)\n"
    "  -p PORT       server port (default 7379)\n"
    "  -a PASSWORD   authenticate with this password\n"
    "  -n NAMESPACE  use this namespace (default: the default namespace)\n"
    "  -u URL        host:port[/ns] or databridge://[:password@]host:port[/ns]\n"
    "  --tls         connect with TLS (verified against the system's CAs)\n"
    "  --cacert FILE verify the server with this CA bundle (implies --tls)\n"
    "  --cert FILE   client certificate (mutual TLS); --key FILE its key\n"
    "  --sni NAME    the name the server's certificate must carry (default: HOST)\n"
    "  -s            send every argument as a string\n"
    "  -t TIMEOUT_S  seconds to wait for a reply (default 30; 0: no limit). Blocking\n"
    "                commands (WAIT, MWAIT, WAITANY, WAITANYV, BLPOP, BRPOP, LOCK with a\n"
    "                timeout) wait their own timeout on top, and with timeout 0 as long as\n"
    "                the server does, as redis-cli\n"
    "  --help        this text\n"
    "  --version     print the version\n";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "data-bridge-kv-cli: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using dbkv::Value;
  dbkv::client::ClientOptions opts;
  opts.timeout_s = 30;
  bool strings_only = false;
  if (const char* pw = std::getenv("KV_PASSWORD"); pw != nullptr) opts.password = pw;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        Fail(std::string(flag) + " needs a value");
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("data-bridge-kv-cli %s\n", dbkv::kVersion);
      return 0;
    } else if (a == "-h") {
      opts.host = next("-h");
    } else if (a == "-p") {
      const char* p = next("-p");
      char* end;
      long port = std::strtol(p, &end, 10);
      if (*end != '\0' || port <= 0 || port > 65535)
        return Fail("-p: bad port '" + std::string(p) + "'");
      opts.port = static_cast<uint16_t>(port);
    } else if (a == "-a") {
      opts.password = next("-a");
    } else if (a == "-n") {
      opts.ns = next("-n");
    } else if (a == "-u") {
      dbkv::Status s = dbkv::client::ParseUrl(next("-u"), &opts);
      if (!s.ok()) return Fail(s.message());
    } else if (a == "--tls") {
      opts.tls = true;
    } else if (a == "--cacert") {
      opts.ca_file = next("--cacert");
      opts.tls = true;
    } else if (a == "--cert") {
      opts.cert_file = next("--cert");
    } else if (a == "--key") {
      opts.key_file = next("--key");
    } else if (a == "--sni") {
      opts.server_name = next("--sni");
    } else if (a == "-s") {
      strings_only = true;
    } else if (a == "-t") {
      opts.timeout_s = std::atof(next("-t"));
    } else if (a == "--") {
      ++i;
      break;
    } else if (a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1]))) {
      return Fail("unknown option " + a + " (see --help)");
    } else {
      break;
    }
  }

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

  if (i < argc) {
    std::vector<dbkv::cli::Word> words;
    for (; i < argc; ++i) words.push_back({argv[i], false});
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
