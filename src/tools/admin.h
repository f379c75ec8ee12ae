/* admin.h — `helenus admin` (admin.c): argv after "admin"; the exit code. */
#ifndef HLN_TOOLS_ADMIN_H
#define HLN_TOOLS_ADMIN_H
int admin_main(int argc, char **argv);
#endif
