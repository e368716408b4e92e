"""The points kit: a community points system (积分制) from a shared workbook."""
