package apitype

// Paging is the envelope of every paged list: {items..., total, page,
// per_page, pages}; pages is at least 1.
type Paging struct {
	Total   int `json:"total"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Pages   int `json:"pages"`
}
