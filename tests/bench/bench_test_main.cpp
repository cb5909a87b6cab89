// The doctest runner for the unit tests of the benchmark tools' parsers.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
