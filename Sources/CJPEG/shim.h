/* libjpeg-turbo (Debian: libjpeg-dev). jpeglib.h needs stdio.h and size_t first. */
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <jpeglib.h>
