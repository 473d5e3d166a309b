/* zlib, for reading the gzip'd IDX files of Debian's dataset packages (package zlib1g-dev). */
#include <zlib.h>
