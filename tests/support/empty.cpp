// Keeps s3l_test_support non-empty before any helper exists.
