#include <libvsr/vsr.h>
int main(void) { return vsr_version() ? 0 : 1; }
