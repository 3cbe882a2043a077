/* plotcheck.c - looks inside a plot written by nk.plot and prints what it
 * found as one line of key=value pairs, for tests/lua/test_plot.lua.
 *
 *   plotcheck FILE
 *
 * The format is told by the file's first bytes, not its name:
 *   PNG  decoded with cairo: format=png width= height= white= (share of
 *        near-white pixels) ink= (share of pixels that are not) frame=x0,y0,x1,y1
 *        (the plot's frame: the outermost rows and columns that are mostly
 *        dark) color= (pixels of a saturated colour: data, not axes or text)
 *        cbox=x0,y0,x1,y1 (their bounding box), top= bottom= (coloured pixels
 *        in the upper and lower half of the frame), and for the first four
 *        colours of the palette cK= (pixels close to it) cKy= (their mean
 *        row, -1 when none);
 *   SVG  parsed with libxml2: format=svg root= width= height= viewbox=
 *        images= (how many <image> elements: embedded bitmaps);
 *   PDF  format=pdf version= pages= mediabox=x0,y0,x1,y1 (the first page's).
 * Exit status 0 when the file was read, 1 when not (with a message on
 * stderr), 2 for a usage error. */
#include <cairo.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int palette[4][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28}};

static int png(const char *path)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "plotcheck: %s: %s\n", path,
                cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return 1;
    }
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    long white = 0, color = 0, top = 0, bottom = 0;
    long ck[4] = {0}, cky[4] = {0};
    int cx0 = w, cy0 = h, cx1 = -1, cy1 = -1;
    int *darkrow = calloc((size_t)h, sizeof *darkrow);
    int *darkcol = calloc((size_t)w, sizeof *darkcol);
    if (!darkrow || !darkcol) {
        fprintf(stderr, "plotcheck: out of memory\n");
        free(darkrow);
        free(darkcol);
        cairo_surface_destroy(s);
        return 1;
    }
    /* first pass: white, dark rows and columns */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned v = *(const unsigned *)(d + (size_t)y * stride + 4 * (size_t)x);
            int r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
            if (r > 235 && g > 235 && b > 235)
                white++;
            if (r < 90 && g < 90 && b < 90)
                darkrow[y]++, darkcol[x]++;
        }
    int fx0 = -1, fx1 = -1, fy0 = -1, fy1 = -1;
    for (int y = 0; y < h; y++)
        if (darkrow[y] > w * 4 / 10) {
            if (fy0 < 0)
                fy0 = y;
            fy1 = y;
        }
    for (int x = 0; x < w; x++)
        if (darkcol[x] > h * 4 / 10) {
            if (fx0 < 0)
                fx0 = x;
            fx1 = x;
        }
    int mid = fy0 >= 0 ? (fy0 + fy1) / 2 : h / 2;
    /* second pass: coloured pixels */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned v = *(const unsigned *)(d + (size_t)y * stride + 4 * (size_t)x);
            int r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
            int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
            int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
            if (mx - mn <= 60)
                continue;
            color++;
            if (y < mid)
                top++;
            else
                bottom++;
            if (x < cx0)
                cx0 = x;
            if (x > cx1)
                cx1 = x;
            if (y < cy0)
                cy0 = y;
            if (y > cy1)
                cy1 = y;
            for (int k = 0; k < 4; k++) {
                int dr = r - palette[k][0], dg = g - palette[k][1], db = b - palette[k][2];
                if (dr * dr + dg * dg + db * db < 40 * 40)
                    ck[k]++, cky[k] += y;
            }
        }
    long n = (long)w * h;
    printf("format=png width=%d height=%d white=%.4f ink=%.4f frame=%d,%d,%d,%d color=%ld "
           "cbox=%d,%d,%d,%d top=%ld bottom=%ld",
           w, h, (double)white / (double)n, 1 - (double)white / (double)n, fx0, fy0, fx1, fy1,
           color, cx0, cy0, cx1, cy1, top, bottom);
    for (int k = 0; k < 4; k++)
        printf(" c%d=%ld c%dy=%ld", k, ck[k], k, ck[k] ? cky[k] / ck[k] : -1);
    printf("\n");
    free(darkrow);
    free(darkcol);
    cairo_surface_destroy(s);
    return 0;
}

static int count_images(xmlNodePtr n)
{
    int c = 0;
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            c += !xmlStrcmp(n->name, (const xmlChar *)"image") + count_images(n->children);
    return c;
}

static int svg(const char *path)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (!doc) {
        fprintf(stderr, "plotcheck: %s: not well-formed XML\n", path);
        return 1;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    const char *keys[] = {"width", "height", "viewBox"};
    printf("format=svg root=%s", root ? (const char *)root->name : "none");
    for (int k = 0; k < 3; k++) {
        xmlChar *v = root ? xmlGetProp(root, (const xmlChar *)keys[k]) : NULL;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", v ? (const char *)v : "none");
        for (char *p = buf; *p; p++)
            if (*p == ' ')
                *p = ',';
        printf(" %s=%s", k == 2 ? "viewbox" : keys[k], buf);
        xmlFree(v);
    }
    printf(" images=%d\n", count_images(root));
    xmlFreeDoc(doc);
    xmlCleanupParser();
    return 0;
}

static int pdf(const char *path, const char *d, size_t n)
{
    char version[16] = "";
    sscanf(d, "%%PDF-%15[0-9.]", version);
    int pages = 0;
    const char *mb = NULL;
    for (size_t i = 0; i + 11 <= n; i++) {
        if (!memcmp(d + i, "/Type /Page", 11) && (i + 11 == n || d[i + 11] != 's'))
            pages++;
        if (!mb && i + 10 <= n && !memcmp(d + i, "/MediaBox", 9))
            mb = d + i + 9;
    }
    double b[4] = {-1, -1, -1, -1};
    if (mb)
        sscanf(mb, " [ %lf %lf %lf %lf", &b[0], &b[1], &b[2], &b[3]);
    (void)path;
    printf("format=pdf version=%s pages=%d mediabox=%g,%g,%g,%g\n", version, pages, b[0], b[1],
           b[2], b[3]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: plotcheck FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    char *d = malloc(cap + 1);
    size_t got;
    while (d && (got = fread(d + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *e = realloc(d, 2 * cap + 1);
            if (!e) {
                free(d);
                d = NULL;
                break;
            }
            d = e;
            cap *= 2;
        }
    }
    fclose(f);
    if (!d) {
        fprintf(stderr, "plotcheck: out of memory\n");
        return 1;
    }
    d[n] = 0;
    int rc;
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
        rc = png(argv[1]);
    else if (n >= 5 && !memcmp(d, "%PDF-", 5))
        rc = pdf(argv[1], d, n);
    else if (n >= 5 && (!memcmp(d, "<?xml", 5) || !memcmp(d, "<svg", 4)))
        rc = svg(argv[1]);
    else {
        printf("format=unknown\n");
        rc = 1;
    }
    free(d);
    return rc;
}
