"""Accounts (SM2/SM3, BLS12-381, secp256k1) and PKI (CA, CSR, certificates)."""
