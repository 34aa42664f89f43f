// A shared library that is not a plugin: it has none of the entry points.
extern "C" int not_a_plugin() { return 42; }
