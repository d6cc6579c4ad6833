"""Wire format only: framing, kio codec use and record batch checks. No asyncio, no broker state."""
