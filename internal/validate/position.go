package validate

import (
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/apiguard/apiguard/internal/config"
)

// yamlDoc is one YAML document of the input, parsed with positions, so that
// findings about an embedded configuration point at lines of the file.
type yamlDoc struct {
	root      *yaml3.Node
	lines     []string // the document's lines
	firstLine int      // the file line of the document's first line, minus 1
}

func parseYAMLDoc(part []byte, firstLine int) *yamlDoc {
	var root yaml3.Node
	if err := yaml3.Unmarshal(part, &root); err != nil || len(root.Content) == 0 {
		return nil
	}
	return &yamlDoc{root: root.Content[0], lines: strings.Split(string(part), "\n"), firstLine: firstLine}
}

// node returns the node at a dotted path ("" is the document), or the
// deepest one on the way that exists. When the path ends at an object key
// that exists, it returns the key's node: where an editor should point.
func (d *yamlDoc) node(path string, wantKey bool) *yaml3.Node {
	ptr, err := config.PathToPointer(path)
	if err != nil || ptr == "" {
		return d.root
	}
	toks := strings.Split(ptr[1:], "/")
	n := d.root
	for k, tok := range toks {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch n.Kind {
		case yaml3.MappingNode:
			i := 0
			for ; i+1 < len(n.Content) && n.Content[i].Value != tok; i += 2 {
			}
			if i+1 >= len(n.Content) {
				return n
			}
			if wantKey && k == len(toks)-1 {
				return n.Content[i]
			}
			n = n.Content[i+1]
		case yaml3.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n
			}
			n = n.Content[i]
		default:
			return n
		}
	}
	return n
}

// position is the file position of a node.
func (d *yamlDoc) position(n *yaml3.Node) (int, int) {
	return d.firstLine + n.Line, n.Column
}

// blockPosition maps a line and column of the text of a literal block
// scalar (`value: |`) to the file. Other scalar styles fold or escape the
// text, so their positions cannot be mapped.
func (d *yamlDoc) blockPosition(n *yaml3.Node, line, col int) (int, int, bool) {
	if n == nil || n.Style != yaml3.LiteralStyle || line < 1 {
		return 0, 0, false
	}
	// The content starts on the line after the indicator; its indentation
	// is that of its first line.
	first := n.Line // 0-based index of the first content line
	if first >= len(d.lines) {
		return 0, 0, false
	}
	indent := len(d.lines[first]) - len(strings.TrimLeft(d.lines[first], " "))
	return d.firstLine + n.Line + line, indent + col, true
}
