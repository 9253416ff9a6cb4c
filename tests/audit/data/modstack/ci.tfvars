tags = {
  Environment = "ci"
  Project     = "ml"
}
