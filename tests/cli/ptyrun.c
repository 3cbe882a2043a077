/* ptyrun.c - placeholder: replaced by the pseudo-terminal driver. */
int main(void) { return 0; }
