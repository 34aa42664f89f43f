// data_bridge.kv._native: the C++ client (client/client.h) for Python.
//
// One NativeClient wraps one pipelined connection. Blocking calls release the GIL while they
// wait; call_async hands the reply to a Python callback on the client's I/O thread (the asyncio
// client resolves its futures from there). Values convert exactly both ways (see ToValue and
// FromValue). Errors become the exception classes of data_bridge.kv.errors, through a factory
// the package installs at import. After fork(), a client notices it is in a child and starts a
// fresh connection and I/O thread (the parent's thread does not exist in the child).
#include <pthread.h>
#include <pybind11/pybind11.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/options.h"
#include "core/decimal.h"
#include "core/reply.h"
#include "core/value.h"

namespace py = pybind11;

namespace dbkv::python {
namespace {

// Bumped in every child after fork(): clients compare it with the value they started with.
std::atomic<uint64_t> g_fork_generation{0};
void OnForkChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Set by data_bridge.kv at import: (code:int, name:str, message:str) -> exception instance.
py::object& ErrorFactory() {
  static py::object* factory = new py::object();  // never destroyed: outlives interpreter exit
  return *factory;
}

[[noreturn]] void RaiseKvError(Code code, const std::string& message) {
  py::object factory = ErrorFactory();
  if (!factory || factory.is_none()) throw std::runtime_error(message);
  py::object exc = factory(static_cast<int>(code), std::string(CodeName(code)), message);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

py::object DecimalType() {
  static py::object* type = new py::object(py::module_::import("decimal").attr("Decimal"));
  return *type;
}

constexpr int kMaxDepth = 64;

Value ToValue(py::handle obj, int depth = 0) {
  if (depth > kMaxDepth) RaiseKvError(Code::kInvalidArgument, "value nested too deeply");
  if (obj.is_none()) return Value::Null();
  if (PyBool_Check(obj.ptr())) return Value::Bool(obj.ptr() == Py_True);
  if (PyLong_Check(obj.ptr())) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    if (overflow != 0) {
      RaiseKvError(Code::kOverflow, "int " + py::repr(obj).cast<std::string>() +
                                        " does not fit in 64 bits; store "
                                        "it as a Decimal or a string");
    }
    return Value::Int(v);
  }
  if (PyFloat_Check(obj.ptr())) return Value::Double(PyFloat_AsDouble(obj.ptr()));
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t n;
    const char* s = PyUnicode_AsUTF8AndSize(obj.ptr(), &n);
    if (s == nullptr) throw py::error_already_set();
    return Value::String(std::string_view(s, static_cast<size_t>(n)));
  }
  if (PyBytes_Check(obj.ptr())) {
    return Value::Bytes(std::string_view(PyBytes_AS_STRING(obj.ptr()),
                                         static_cast<size_t>(PyBytes_GET_SIZE(obj.ptr()))));
  }
  if (PyByteArray_Check(obj.ptr()) || PyMemoryView_Check(obj.ptr())) {
    // PyBytes_FromObject copies any buffer (a non-contiguous memoryview too); py::bytes(obj)
    // would only accept bytes itself.
    PyObject* b = PyBytes_FromObject(obj.ptr());
    if (b == nullptr) throw py::error_already_set();
    py::object owned = py::reinterpret_steal<py::object>(b);
    return Value::Bytes(
        std::string_view(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b))));
  }
  if (py::isinstance(obj, DecimalType())) {
    if (!obj.attr("is_finite")().cast<bool>()) {
      RaiseKvError(Code::kInvalidArgument,
                   "Decimal " + py::str(obj).cast<std::string>() + " is not finite");
    }
    auto d = Decimal::Parse(py::str(obj).cast<std::string>());
    if (!d.ok()) RaiseKvError(d.status().code(), d.status().message());
    return Value::Dec(*d);
  }
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    ValueList items;
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    items.reserve(seq.size());
    for (py::handle item : seq) items.push_back(ToValue(item, depth + 1));
    return Value::List(std::move(items));
  }
  if (PyDict_Check(obj.ptr())) {
    ValueMap items;
    py::dict d = py::reinterpret_borrow<py::dict>(obj);
    items.reserve(d.size());
    for (auto kv : d)
      items.emplace_back(ToValue(kv.first, depth + 1), ToValue(kv.second, depth + 1));
    return Value::Map(std::move(items));
  }
  RaiseKvError(Code::kInvalidArgument,
               "cannot store a value of type " +
                   py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>() +
                   " (None, bool, int, float, Decimal, str, bytes, list, tuple, dict)");
}

py::object FromValue(const Value& v, bool as_key = false) {
  switch (v.type()) {
    case ValueType::kNull:
      return py::none();
    case ValueType::kBool:
      return py::bool_(v.AsBool());
    case ValueType::kInt:
      return py::int_(v.AsInt());
    case ValueType::kDouble:
      return py::float_(v.AsDouble());
    case ValueType::kDecimal:
      return DecimalType()(v.AsDecimal().ToString());
    case ValueType::kString: {
      std::string_view s = v.AsStringView();
      PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
      if (o == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(o);
    }
    case ValueType::kBytes: {
      std::string_view s = v.AsStringView();
      return py::bytes(s.data(), s.size());
    }
    case ValueType::kList: {
      const ValueList& l = v.AsList();
      if (as_key) {  // a dict key must be hashable
        py::tuple t(l.size());
        for (size_t i = 0; i < l.size(); ++i) t[i] = FromValue(l[i], true);
        return std::move(t);
      }
      py::list out(l.size());
      for (size_t i = 0; i < l.size(); ++i) out[i] = FromValue(l[i]);
      return std::move(out);
    }
    case ValueType::kMap: {
      py::dict out;
      for (const auto& kv : v.AsMap()) out[FromValue(kv.first, true)] = FromValue(kv.second);
      return std::move(out);
    }
    case ValueType::kCold:
      // A reference to a value in the server's cold segments: the wire codec has no encoding
      // for one, so a decoded reply never holds it.
      throw std::runtime_error("internal error: a server-side cold reference in a reply");
  }
  return py::none();
}

// The reply's value, or the error raised.
py::object FromReply(const Reply& r) {
  if (!r.ok()) RaiseKvError(r.code, r.error);
  return FromValue(r.value);
}

ValueList ToArgs(const py::tuple& args) {
  ValueList out;
  out.reserve(args.size());
  for (py::handle a : args) out.push_back(ToValue(a));
  return out;
}

// One I/O thread that every "shared" NativeClient of this process runs on (the client's
// connections for blocking commands: many connections, one thread, rather than an I/O thread
// and a resolver thread per connection). Created on first use; never stopped (it waits for
// work at no cost). After fork() the parent's thread does not exist in the child: the old one
// is left alone (leaked, its locks may be held) and a new one starts.
class SharedIo {
 public:
  static boost::asio::io_context* Get() {
    static std::mutex* mu = new std::mutex();  // never destroyed: threads may outlive main
    static SharedIo* current = nullptr;
    const uint64_t gen = g_fork_generation.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(*mu);
    if (current == nullptr || current->fork_generation_ != gen) current = new SharedIo(gen);
    return &current->io_;
  }

 private:
  explicit SharedIo(uint64_t gen) : fork_generation_(gen), io_(1), work_(io_.get_executor()) {
    std::thread([this] { io_.run(); }).detach();
  }
  uint64_t fork_generation_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
};

// A Python object that may be released on a thread without the GIL.
struct GilSafeObject {
  py::object obj;
  ~GilSafeObject() {
    if (!Py_IsInitialized()) {
      obj.release();  // the interpreter is gone: leak rather than crash
      return;
    }
    py::gil_scoped_acquire gil;
    obj = py::object();
  }
};

// Thread safety: client_ is read and replaced only with the GIL held. Each call works on its
// own reference to the client, dropped (GIL released) once the request is handed over, so
// close() from another thread never destroys a client under a call that is using it; it fails
// the calls in flight (KvConnectionError) instead.
class NativeClient {
 public:
  using ClientPtr = std::shared_ptr<client::Client>;

  // shared_io: run on the process's shared I/O thread (SharedIo) instead of a thread of its
  // own (the connections of blocking commands, which come and go and may be many).
  NativeClient(std::string host, int port, std::string ns, std::string password, bool tls,
               double connect_timeout, double timeout, std::string ca_file, std::string cert_file,
               std::string key_file, std::string server_name, bool shared_io)
      : shared_io_(shared_io) {
    opts_.host = std::move(host);
    opts_.port = static_cast<uint16_t>(port);
    opts_.ns = std::move(ns);
    opts_.password = std::move(password);
    opts_.tls = tls;
    opts_.ca_file = std::move(ca_file);
    opts_.cert_file = std::move(cert_file);
    opts_.key_file = std::move(key_file);
    opts_.server_name = std::move(server_name);
    opts_.connect_timeout_s = connect_timeout;
    opts_.timeout_s = timeout;
    Start();
  }

  ~NativeClient() { Close(); }

  // Blocking call; timeout < 0: the client's default; 0: no limit. Waits with the GIL
  // released, in slices, so that Ctrl-C (a pending signal) interrupts it.
  py::object Call(const std::string& name, const py::tuple& args, double timeout) {
    ValueList argv = ToArgs(args);
    auto done = std::make_shared<std::promise<Reply>>();
    std::future<Reply> fut = done->get_future();
    ClientPtr c = Current();
    {
      py::gil_scoped_release release;
      c->async().Call(name, std::move(argv), [done](Reply r) { done->set_value(std::move(r)); });
      c.reset();  // may be the last reference (a concurrent close): joins the I/O thread
    }
    WaitFor(fut, timeout, name);
    return FromReply(fut.get());
  }

  // Several commands pipelined on the connection (sent together, one round trip): a list of
  // (name, args) in, their replies in the same order out. Every reply is awaited; then the
  // first error (in order) is raised. timeout as for Call, for the whole batch.
  py::list CallMany(const py::list& calls, double timeout) {
    std::vector<std::pair<std::string, ValueList>> requests;
    requests.reserve(calls.size());
    for (py::handle call : calls) {
      auto pair = call.cast<py::tuple>();
      if (pair.size() != 2) RaiseKvError(Code::kInvalidArgument, "call_many takes (name, args)");
      requests.emplace_back(pair[0].cast<std::string>(), ToArgs(pair[1].cast<py::tuple>()));
    }
    if (requests.empty()) return py::list();
    auto replies = std::make_shared<std::vector<Reply>>(requests.size());
    auto left = std::make_shared<std::atomic<size_t>>(requests.size());
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> fut = done->get_future();
    ClientPtr c = Current();
    {
      py::gil_scoped_release release;
      for (size_t i = 0; i < requests.size(); ++i) {
        c->async().Call(requests[i].first, std::move(requests[i].second),
                        [replies, left, done, i](Reply r) {
                          (*replies)[i] = std::move(r);
                          if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) done->set_value();
                        });
      }
      c.reset();
    }
    WaitFor(fut, timeout, requests.size() == 1 ? requests[0].first : "a pipeline");
    fut.get();
    py::list out(replies->size());
    for (size_t i = 0; i < replies->size(); ++i) out[i] = FromReply((*replies)[i]);
    return out;
  }

  // callback(result, exception) runs on the I/O thread, with the GIL.
  void CallAsync(const std::string& name, const py::tuple& args, py::object callback) {
    ValueList argv = ToArgs(args);
    auto cb = std::make_shared<GilSafeObject>();
    cb->obj = std::move(callback);
    ClientPtr c = Current();
    py::gil_scoped_release release;
    c->async().Call(name, std::move(argv), [cb](Reply r) {
      if (!Py_IsInitialized()) return;
      py::gil_scoped_acquire gil;
      try {
        py::object result;
        try {
          result = FromReply(r);
        } catch (py::error_already_set& e) {
          cb->obj(py::none(), e.value());
          return;
        }
        cb->obj(result, py::none());
      } catch (py::error_already_set& e) {
        // The callback itself raised: report it the way Python reports lost exceptions.
        e.discard_as_unraisable("data_bridge.kv callback");
      }
    });
    c.reset();
  }

  void Connect() {
    ClientPtr c = Current();
    Status s;
    {
      py::gil_scoped_release release;
      s = c->Connect();
      c.reset();
    }
    if (!s.ok()) RaiseKvError(s.code(), s.message());
  }

  void Close() {
    if (!client_) return;
    ClientPtr c = std::move(client_);
    client_.reset();
    if (ForkedSinceStart()) {
      // The parent's client, not used in this child: destroying it would wait for the
      // parent's I/O thread, which does not exist here (a hang). See Current().
      Leak(std::move(c));
      return;
    }
    // Joining the I/O thread may wait for a callback that needs the GIL.
    py::gil_scoped_release release;
    c.reset();
  }

  bool closed() const { return !client_; }
  size_t inflight() const {
    return client_ && !ForkedSinceStart() ? client_->async().inflight() : 0;
  }

 private:
  // Waits for fut with the GIL released, in slices of 100 ms so that a pending signal
  // (Ctrl-C, an alarm) runs its handler and may interrupt the wait; timeout < 0: the client's
  // default, 0: no limit.
  template <typename Future>
  void WaitFor(Future& fut, double timeout, const std::string& what) {
    if (timeout < 0) timeout = opts_.timeout_s;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(timeout * 1e6));
    for (;;) {
      std::future_status st;
      {
        py::gil_scoped_release release;
        auto slice = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        if (timeout > 0 && deadline < slice) slice = deadline;
        st = fut.wait_until(slice);
      }
      if (st == std::future_status::ready) return;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (timeout > 0 && std::chrono::steady_clock::now() >= deadline) {
        RaiseKvError(Code::kTimeout,
                     "no reply to " + what + " within " + std::to_string(timeout) + " s");
      }
    }
  }

  void Start() {
    fork_generation_ = g_fork_generation.load(std::memory_order_relaxed);
    client_ = std::make_shared<client::Client>(opts_, shared_io_ ? SharedIo::Get() : nullptr);
  }

  bool ForkedSinceStart() const {
    return fork_generation_ != g_fork_generation.load(std::memory_order_relaxed);
  }

  static void Leak(ClientPtr c) { new ClientPtr(std::move(c)); }

  // The client of this process: after a fork, the parent's (whose I/O thread is gone) is left
  // untouched — its locks may be held — and a new one takes its place.
  ClientPtr Current() {
    if (!client_) RaiseKvError(Code::kIoError, "client is closed");
    if (ForkedSinceStart()) {
      Leak(std::move(client_));  // deliberately leaked: destroying it would join a thread
      Start();                   // that does not exist in this process
    }
    return client_;
  }

  client::ClientOptions opts_;
  bool shared_io_ = false;
  ClientPtr client_;
  uint64_t fork_generation_ = 0;
};

// The URL's parts; "options" holds what its query string set (key -> value), so that Python
// can let keyword arguments win over it.
py::dict ParseUrl(const std::string& url) {
  client::ClientOptions o;
  std::vector<std::string> keys;
  Status s = client::ParseUrl(url, &o, &keys);
  if (!s.ok()) RaiseKvError(s.code(), s.message());
  py::dict d;
  d["host"] = o.host;
  d["port"] = o.port;
  d["namespace"] = o.ns;
  d["password"] = o.password.empty() ? py::object(py::none()) : py::object(py::str(o.password));
  d["tls"] = o.tls;
  py::dict options;
  for (const std::string& k : keys) {
    if (k == "timeout") {
      options[k.c_str()] = o.timeout_s;
    } else if (k == "connect_timeout") {
      options[k.c_str()] = o.connect_timeout_s;
    } else if (k == "ca_file") {
      options[k.c_str()] = o.ca_file;
    } else if (k == "cert_file") {
      options[k.c_str()] = o.cert_file;
    } else if (k == "key_file") {
      options[k.c_str()] = o.key_file;
    } else if (k == "server_name") {
      options[k.c_str()] = o.server_name;
    }
  }
  d["options"] = options;
  return d;
}

}  // namespace
}  // namespace dbkv::python

PYBIND11_MODULE(_native, m) {
  using dbkv::python::NativeClient;
  m.doc() = "data_bridge.kv native client (C++, pipelined, GIL released during I/O)";
  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] { pthread_atfork(nullptr, nullptr, dbkv::python::OnForkChild); });
  m.def("set_error_factory", [](py::object f) { dbkv::python::ErrorFactory() = std::move(f); });
  m.def("parse_url", &dbkv::python::ParseUrl, py::arg("url"));
  py::class_<NativeClient>(m, "NativeClient")
      .def(py::init<std::string, int, std::string, std::string, bool, double, double, std::string,
                    std::string, std::string, std::string, bool>(),
           py::arg("host"), py::arg("port"), py::arg("namespace"), py::arg("password"),
           py::arg("tls"), py::arg("connect_timeout"), py::arg("timeout"), py::arg("ca_file") = "",
           py::arg("cert_file") = "", py::arg("key_file") = "", py::arg("server_name") = "",
           py::arg("shared_io") = false)
      .def("call", &NativeClient::Call, py::arg("name"), py::arg("args"), py::arg("timeout") = -1.0)
      .def("call_many", &NativeClient::CallMany, py::arg("calls"), py::arg("timeout") = -1.0)
      .def("call_async", &NativeClient::CallAsync, py::arg("name"), py::arg("args"),
           py::arg("callback"))
      .def("connect", &NativeClient::Connect)
      .def("close", &NativeClient::Close)
      .def_property_readonly("closed", &NativeClient::closed)
      .def_property_readonly("inflight", &NativeClient::inflight);
}
