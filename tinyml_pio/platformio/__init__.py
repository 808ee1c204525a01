"""PlatformIO glue: the library's extra script (`extra`), offline setup (`offline`), QEMU boards (`qemu`)."""
