/* command-line parsing helpers shared by vsr-cli and vsr-bench */
#include <libvsr/vsr.h>
