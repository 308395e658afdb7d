"""What the people read: feedback pages, the class report, grade exports, and the per-check results they share."""
