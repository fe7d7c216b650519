"""cltv: customer lifetime value from repeat-purchase histories (see the README)."""
