/* empty.c — placeholder object for a module whose sources do not exist yet. */
typedef int hln_empty_translation_unit;
