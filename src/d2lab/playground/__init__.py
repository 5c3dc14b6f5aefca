"""The optimization playground: the book's gradient-descent, Newton and noisy-SGD demos (chapter 12)."""
