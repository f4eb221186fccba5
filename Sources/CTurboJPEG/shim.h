/* libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev, pkg-config libturbojpeg).
   Unlike the libjpeg API it reports errors by return value, so Swift never needs longjmp. */
#include <turbojpeg.h>
