# Turns INPUT into a C source defining SYMBOL (a NUL-terminated char array)
# and SYMBOL_len (its length without the NUL). Run with cmake -P.
# The bytes are one string literal of \xNN escapes (not int initialisers),
# so that bytes above 0x7f need no conversion to a signed char.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" bytes "${hex}")
file(WRITE ${OUTPUT}
  "/* Generated from ${INPUT} by cmake/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "const char ${SYMBOL}[] =\n\"${bytes}\";\n"
  "const size_t ${SYMBOL}_len = ${len};\n")
