// KilnDriver
